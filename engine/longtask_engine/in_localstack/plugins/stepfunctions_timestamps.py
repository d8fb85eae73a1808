"""Make LocalStack's Choice timestamp operators read RFC 3339 timestamps as AWS Step Functions does.

LocalStack 4.9.2 parses Choice timestamps only as `YYYY-MM-DDTHH:MM:SSZ`, while it writes
`$$.State.EnteredTime` as `...HH:MM:SS.ffffff+00:00`; AWS accepts any RFC 3339 timestamp (fractions,
offsets). Without this the workflow's deadline check could never fire locally. Runs when LocalStack
starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from localstack.runtime import hooks


def parse_rfc3339(text: str) -> datetime | None:
    """A naive UTC datetime for an RFC 3339 timestamp with a zone, else None."""
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else None


@hooks.on_infra_start()
def accept_rfc3339_timestamps() -> None:
    from localstack.services.stepfunctions.asl.component.state.state_choice.comparison.operator.implementations import (
        is_operator,
    )

    is_operator.IsTimestamp.string_to_timestamp = staticmethod(parse_rfc3339)
