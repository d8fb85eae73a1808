"""docs/python-api.md's examples, run as written, one after another, on the test stack (Client() connects to it as
the session deployed it, instead of deploying the default stack)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from longtask import api
from longtask.client import LongTaskClient
from longtask.waiting import poll_condition

from .engine_session import ROOT
from .support import live_instances

DOC = Path(ROOT) / "docs" / "python-api.md"


def test_the_python_api_examples_run_as_documented(client: LongTaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "connect", lambda *args: client)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 5
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    assert namespace["record"]["status"] == "SUCCEEDED" and namespace["run"].status == "SUCCEEDED"
    assert f"hello from run {namespace['run'].id}" in namespace["record"]["logTail"]
    assert [line for line in namespace["log"].splitlines() if line.startswith("step")] == ["step 1", "step 2",
                                                                                          "step 3"]  # fmt: skip
    assert namespace["ended"]["status"] == "ABORTED"
    assert poll_condition(lambda: live_instances(client, namespace["long"].id) == [], 30)  # none left running
    assert namespace["recent"] and namespace["recent"][0]["runId"] == namespace["long"].id  # the queue's newest
    assert namespace["refusal"] == "invalid input: onStall 'fail' acts on a stall; set stallSeconds too"
