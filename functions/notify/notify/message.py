"""The chat message of a run event: one line a person reads in Slack, with where to look next."""

from __future__ import annotations

from typing import Any

STALLED = "LongTask Run Stalled"


def text_of(detail_type: str, record: dict[str, Any]) -> str:
    """`Run <id> FAILED: <reason>` (exit code, log), or `Run <id> stalled at <time>` (diagnostics)."""
    run_id = record.get("runId", "?")
    if detail_type == STALLED:
        where = record.get("diagnosticsUri")
        return f"Run {run_id} stalled at {record.get('stalledAt')}: no progress; diagnostics: {where}"
    parts = [f"Run {run_id} {record.get('status')}: {record.get('reason') or 'no reason given'}"]
    if record.get("exitCode") is not None:
        parts.append(f"exit code {record['exitCode']}")
    if record.get("logUri"):
        parts.append(f"log: {record['logUri']}")
    return "; ".join(parts)
