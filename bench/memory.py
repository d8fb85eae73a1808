"""Peak memory of process trees (proportional set size: a page shared by forked processes counts once in all),
sampled from /proc while a benchmark runs.

A sample is not free: the kernel walks a process's page tables to answer its smaps_rollup, about 1.3 ms of CPU for
each of the engine's processes here, 0.3 CPU s a sample with 50 runs' Lambda environments up. Sampled every 0.5 s,
that took a fifth of a 2-core machine from the runs being measured; every 2 s, and once more at the end, it takes
about 7% and still sees the peak, which comes as environments start and stays while they stay up.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

INTERVAL_SECONDS = 2.0


def tree_pss_mib(root: int, children: dict[int, list[int]] | None = None) -> float:
    """Proportional set size of a process and all its descendants, in MiB (children: a process_children() answer,
    to share one between several roots)."""
    children = process_children() if children is None else children
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _pss_kib(pid)
        stack += children.get(pid, [])
    return total / 1024


def process_children() -> dict[int, list[int]]:
    """Every process's children, by parent pid."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command's name, which may hold spaces
        except OSError:  # ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return children


def _pss_kib(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:  # ended meanwhile
        return 0
    return next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)


class PeakSampler:
    """Samples the trees of the given pids every interval until stopped, and once more then; keeps each one's peak,
    and the CPU seconds the sampling itself took (cpu_seconds: not the benchmark's)."""

    def __init__(self, pids: dict[str, int], interval: float = INTERVAL_SECONDS) -> None:
        self.pids = pids
        self.peaks = dict.fromkeys(pids, 0.0)
        self.interval = interval
        self.cpu_seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            children = process_children()
            for name, pid in self.pids.items():
                self.peaks[name] = max(self.peaks[name], tree_pss_mib(pid, children))
            self.cpu_seconds = time.thread_time()
            if self._stop.is_set():
                return
            self._stop.wait(self.interval)
