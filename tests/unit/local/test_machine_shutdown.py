"""A local machine's `shutdown` (longtask_engine/machine.py): it says when to power off, and presses the machine's
power button so that the agent looks now."""

from __future__ import annotations

import subprocess
from pathlib import Path

from longtask_engine.agent_nudge import Nudges
from longtask_engine.host.machine import install_commands
from longtask_engine.paths import POWER_BUTTON


def shutdown(directory: Path, *args: str) -> subprocess.CompletedProcess:
    install_commands(directory, aws="#!/bin/sh\n")
    env = {"PATH": "/usr/bin:/bin", "LONGTASK_INSTANCE_DIR": str(directory), "LONGTASK_MINUTE_SECONDS": "60"}
    return subprocess.run([str(directory / "shutdown"), *args], env=env, capture_output=True, text=True, timeout=30)


def test_shutdown_now_presses_the_power_button(tmp_path: Path) -> None:
    button = Nudges(tmp_path / POWER_BUTTON)
    try:
        assert button.wait(0) is None
        assert shutdown(tmp_path, "-h", "now").returncode == 0
        assert (tmp_path / "power-off-at").read_text().strip().isdigit()
        assert button.wait(5) is not None
    finally:
        button.close()


def test_with_no_agent_waiting_it_neither_blocks_nor_fails(tmp_path: Path) -> None:
    Nudges(tmp_path / POWER_BUTTON).close()  # the pipe stays, nobody reads it (the agent is gone)
    assert shutdown(tmp_path, "-h", "+5").returncode == 0
    (tmp_path / POWER_BUTTON).unlink()
    completed = shutdown(tmp_path, "now")  # no pipe at all: none is made
    assert completed.returncode == 0 and completed.stderr == ""
    assert not (tmp_path / POWER_BUTTON).exists()
