"""An engine of its own with the speed-only patches off (LONGTASK_ENGINE_SPEED=off) runs a job as the usual one
does: they change how fast the engine answers, never what it answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .engine_session import ROOT

PORT = "4597"  # not the shared engine's


@pytest.mark.exclusive  # a second LocalStack on 2 cores: it would slow the tests side by side
def test_an_engine_without_the_speed_patches_runs_a_job(tmp_path: Path) -> None:
    env = {**os.environ, "LONGTASK_HOME": str(tmp_path), "LONGTASK_LOCAL_PORT": PORT, "LONGTASK_ENGINE_SPEED": "off"}
    cli = str(Path(sys.executable).with_name("longtask"))
    try:
        done = subprocess.run([cli, "run", "userdata/examples/hello.sh", "--json"], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        record = json.loads(done.stdout)
        assert record["status"] == "SUCCEEDED" and record["exitCode"] == 0, record
    finally:
        down = subprocess.run([cli, "local", "down"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stderr
