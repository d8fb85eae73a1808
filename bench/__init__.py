"""Benchmarks of AWSLongRunningTask on the local engine: figures printed as a table, never asserted."""

import sys
from pathlib import Path

# the launcher's own modules (its watch plan, its start_run) are measured and reused as they are
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions" / "launcher"))
