"""Durations as people write them: 90s, 30m, 2h, 1d (a bare number is seconds)."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")


def parse_duration(text: str) -> int:
    """Seconds in a duration like '90s', '30m', '2h' or '1d'; ValueError names what is wrong."""
    match = _PATTERN.match(text.lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"'{text}' is not a duration: write a positive whole number with s, m, h or d (e.g. 30m)")
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]
