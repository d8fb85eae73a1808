"""Peak memory of process trees (proportional set size: a page shared by forked processes counts once in all),
sampled from /proc while a benchmark runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path


def tree_pss_mib(root: int) -> float:
    """Proportional set size of a process and all its descendants, in MiB."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        children.setdefault(int(fields["PPid"]), []).append(int(fields["Pid"]))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _pss_kib(pid)
        stack += children.get(pid, [])
    return total / 1024


def _pss_kib(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:  # ended meanwhile
        return 0
    return next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)


class PeakSampler:
    """Samples the trees of the given pids every interval until stopped; keeps each one's peak, and the CPU
    seconds the sampling itself took (cpu_seconds: not the benchmark's)."""

    def __init__(self, pids: dict[str, int], interval: float = 0.5) -> None:
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
        while not self._stop.is_set():
            for name, pid in self.pids.items():
                self.peaks[name] = max(self.peaks[name], tree_pss_mib(pid))
            self.cpu_seconds = time.thread_time()
            self._stop.wait(self.interval)
