"""Keep HTTP connections to LocalStack open between requests, as AWS's endpoints do: an HTTP/1.1 connection is
persistent unless a side says `Connection: close` (RFC 9112, 9.3), and the AWS SDKs reuse theirs. LocalStack 4.9.2
ends every response through hypercorn with `Connection: close`, a workaround for h11
(https://github.com/localstack/localstack/issues/6557), so every call made a new TLS handshake. A connection idle
past hypercorn's keep-alive timeout is closed, and botocore opens a new one, as with AWS. Runs when LocalStack
starts (before it builds its gateway), through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks

from longtask_engine.in_localstack.speed import speed_only


@hooks.on_infra_start()
@speed_only
def keep_connections_alive() -> None:
    from localstack.aws import handlers

    handlers.set_close_connection_header = leave_connection_open


def leave_connection_open(_chain: Any, _context: Any, _response: Any) -> None:
    """The gateway's finalizer in place of LocalStack's `set_close_connection_header`: adds no header."""
