"""Concurrency: N runs of a 2-second script at once: wall, CPU seconds per run, the engine's and the agent's peak
memory."""

from __future__ import annotations

import time
from typing import Any

from longtask.client import LongTaskClient

from .cpu import busy_seconds
from .memory import PeakSampler

SCRIPT = {"script": "sleep 2\necho done\n"}


def concurrent_runs(client: LongTaskClient, n: int, pids: dict[str, int]) -> dict[str, Any]:
    with PeakSampler(pids) as sampler:
        busy = busy_seconds()
        started = time.perf_counter()
        run_ids = [client.start(SCRIPT) for _ in range(n)]
        records = client.wait_all(run_ids)
        wall = time.perf_counter() - started
        cpu = busy_seconds() - busy - sampler.cpu_seconds
    recorded = sum(1 for run_id in run_ids if (client.item(run_id) or {}).get("status") == "SUCCEEDED")
    return {
        "runs": n,
        "wall seconds": wall,
        "runs per minute": n / wall * 60,
        "succeeded": sum(1 for r in records if r["status"] == "SUCCEEDED"),
        "recorded": recorded,
        "CPU s per run": cpu / n,
        **{f"peak MiB {name}": peak for name, peak in sampler.peaks.items()},
    }
