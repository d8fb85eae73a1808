"""Machine-wide CPU time, from /proc/stat: what a benchmark costs, whichever process spends it (LocalStack, the
Lambda environments, the instances' bash and AWS CLI processes, orphans included)."""

from __future__ import annotations

import os
from pathlib import Path

IDLE_FIELDS = (3, 4)  # idle, iowait: the rest of the "cpu" line is time spent working


def busy_seconds() -> float:
    """CPU seconds the machine has spent working since it booted, over all cores."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(v for i, v in enumerate(fields) if i not in IDLE_FIELDS) / os.sysconf("SC_CLK_TCK")
