"""The one timestamp format of run records and tags: UTC to the second, as `date -u +%Y-%m-%dT%H:%M:%SZ`."""

from __future__ import annotations

from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso_utc(moment: datetime | None = None) -> str:
    """The moment (now by default) as 2026-01-31T12:00:00Z."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime(FORMAT)


def parse_iso_utc(text: str) -> datetime:
    return datetime.strptime(text, FORMAT).replace(tzinfo=UTC)


def normalized(text: str) -> str:
    """Any ISO 8601 time (a context object's 2026-01-31T12:00:00.123Z) in the contract's format."""
    return iso_utc(datetime.fromisoformat(text))
