"""The engine's background processes: each start's log, the previous one kept."""

from __future__ import annotations

import sys
from pathlib import Path

from longtask_engine.host.processes import spawn

from longtask.waiting import poll_condition


def start_printing(text: str, tmp_path: Path) -> Path:
    log = tmp_path / "logs" / "server.log"
    spawn([sys.executable, "-c", f"print({text!r})"], tmp_path / "server.pid", log, {}, tmp_path)
    assert poll_condition(lambda: log.read_text() == f"{text}\n", timeout=10)
    return log


def test_a_start_writes_a_new_log_and_keeps_the_previous_one_only(tmp_path: Path) -> None:
    for text in ("first", "second", "third"):
        log = start_printing(text, tmp_path)
    assert log.read_text() == "third\n"
    assert log.with_name("server.log.1").read_text() == "second\n"
    assert sorted(path.name for path in log.parent.iterdir()) == ["server.log", "server.log.1"]
