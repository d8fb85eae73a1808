"""Give the gateway's interim responses their reason phrase, as S3 does: `HTTP/1.1 100 Continue` to a request
that says `Expect: 100-continue` (RFC 9110, 15.2.1). hypercorn's h11 protocol sent `HTTP/1.1 100 ` with none,
and botocore 1.35 (boto3 1.35.49) then failed every PutObject it sent with Expect with "Connection was closed".
Runs when LocalStack starts (before the gateway serves), through the entry point
`localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from localstack.runtime import hooks


def with_reason(event: Any) -> Any:
    """An h11 interim response without a reason phrase, given its standard one."""
    import h11

    if isinstance(event, h11.InformationalResponse) and not event.reason:
        return h11.InformationalResponse(status_code=event.status_code, headers=event.headers,
                                         reason=HTTPStatus(event.status_code).phrase.encode())  # fmt: skip
    return event


@hooks.on_infra_start()
def send_reason_phrases() -> None:
    from hypercorn.protocol.h11 import H11Protocol

    send = H11Protocol._send_h11_event

    async def sending_with_reason(self: H11Protocol, event: Any) -> None:
        await send(self, with_reason(event))

    H11Protocol._send_h11_event = sending_with_reason
