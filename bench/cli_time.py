"""CLI: wall time of `longtask --help` (a fresh process each time) and whether it imported boto3, and of
`longtask run` of a trivial script."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_time(stack: str, repeats: int = 3) -> dict[str, float]:
    """`longtask run hello.sh` as typed (a fresh CLI process, which starts the run and waits for its record), on
    the warm engine."""
    script = Path(tempfile.mkdtemp()) / "hello.sh"
    script.write_text("echo hello\n")
    command = [str(Path(sys.executable).with_name("longtask")), "--stack", stack, "run", str(script)]
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return {"median s": statistics.median(samples), "min s": min(samples), "max s": max(samples)}


def help_time(repeats: int = 7) -> dict[str, float | str]:
    command = [str(Path(sys.executable).with_name("longtask")), "--help"]
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    imports = subprocess.run([sys.executable, "-X", "importtime", *command], check=True, capture_output=True).stderr
    return {"median s": statistics.median(samples), "min s": min(samples), "max s": max(samples),
            "imports boto3": "yes" if b" boto3\n" in imports else "no"}  # fmt: skip
