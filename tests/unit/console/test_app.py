"""The console's app with a stand-in client: only 127.0.0.1 and localhost as Host, a session token on every form
that changes something, a 404 that names an unknown run, bad input marked next to its field and nothing started,
and the Runs table read at most once every 5 s whatever polls it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from starlette.testclient import TestClient

from longtask.console.app import create_app
from longtask.errors import RunNotFound

TOKEN = "session-token"
QUEUED = {"runId": "run-0", "status": "QUEUED", "queue": "nightly", "waitReason": "queue nightly: 2 of 2 runs"}
RECORD = {"runId": "run-1", "status": "SUCCEEDED", "queue": "default", "costUsd": 0.000179, "exitCode": 0,
          "instanceType": "t3a.nano", "launchedAt": "2026-12-07T07:00:00Z", "finishedAt": "2026-12-07T07:00:09Z"}


class Runs:
    """A stack with one run."""

    def __init__(self) -> None:
        self.target = SimpleNamespace(stack_name="longtask")
        self.stack = SimpleNamespace(bucket="bucket", state_machine_arn="arn:sm")
        self.listed = 0
        self.started: list[dict[str, Any]] = []
        self.aborted: list[str] = []

    def list_runs(self, limit: int, status: str | None = None, queue: str | None = None) -> list[dict[str, Any]]:
        self.listed += 1
        return [QUEUED, RECORD]

    def record(self, run_id: str) -> dict[str, Any]:
        if run_id != "run-1":
            raise RunNotFound(f"no run {run_id} in stack longtask")
        return RECORD

    def start(self, run_input: dict[str, Any]) -> str:
        self.started.append(run_input)
        return "run-2"

    def abort(self, run_id: str) -> dict[str, Any]:
        self.aborted.append(run_id)
        return RECORD


@pytest.fixture
def runs() -> Runs:
    return Runs()


@pytest.fixture
def console(runs: Runs) -> TestClient:
    return TestClient(create_app(runs, TOKEN), base_url="http://127.0.0.1:8340", follow_redirects=False)  # type: ignore[arg-type]


def test_the_runs_page_shows_status_cost_and_exit_code(console: TestClient) -> None:
    page = console.get("/").text
    assert "run-1" in page and "SUCCEEDED" in page and "$0.000179" in page and "t3a.nano" in page
    assert "run-0" in page and "QUEUED" in page  # a run with no cost or exit code yet


def test_a_host_other_than_loopback_is_refused(console: TestClient) -> None:
    assert console.get("/", headers={"Host": "attacker.example:8340"}).status_code == 400
    assert console.get("/", headers={"Host": "localhost:8340"}).status_code == 200


def test_a_change_without_the_sessions_token_is_refused(console: TestClient, runs: Runs) -> None:
    refused = console.post("/runs/run-1/abort", data={"token": "guessed"})
    assert refused.status_code == 403 and runs.aborted == []
    assert console.post("/runs/run-1/abort", data={"token": TOKEN}).status_code == 303
    assert runs.aborted == ["run-1"]
    assert console.post("/start", data={"script": "echo hi"}).status_code == 403 and runs.started == []


def test_an_unknown_run_is_a_404_that_says_so(console: TestClient) -> None:
    answer = console.get("/runs/no-such-run")
    assert answer.status_code == 404 and "no run no-such-run in stack longtask" in answer.text


def test_an_input_that_is_not_json_is_marked_where_it_breaks(console: TestClient, runs: Runs) -> None:
    answer = console.post("/start", data={"token": TOKEN, "input": '{"script": "echo hi",\n "retries": }'})
    assert answer.status_code == 400
    assert 'id="input-error"' in answer.text and "line 2, column 13" in answer.text and "            ^" in answer.text
    assert runs.started == []


def test_input_the_launcher_refuses_is_named_next_to_its_field(console: TestClient, runs: Runs) -> None:
    answer = console.post("/start", data={"token": TOKEN, "script": "echo hi", "retries": "9"})
    assert answer.status_code == 400 and 'id="retries-error"' in answer.text and runs.started == []
    started = console.post("/start", data={"token": TOKEN, "script": "echo hi", "queue": "nightly", "spot": "on"})
    assert (started.status_code, started.headers["location"]) == (303, "/runs/run-2")
    assert runs.started == [{"script": "echo hi", "queue": "nightly", "spot": True}]


def test_pages_polling_side_by_side_read_the_runs_table_once(console: TestClient, runs: Runs) -> None:
    for _ in range(10):
        assert console.get("/fragments/runs").status_code == 200
    assert runs.listed == 1


def test_an_uploaded_script_is_the_runs_script(console: TestClient, runs: Runs) -> None:
    started = console.post("/start", data={"token": TOKEN}, files={"upload": ("job.sh", b"echo uploaded\n")})
    assert started.status_code == 303
    assert runs.started == [{"script": "echo uploaded\n"}]  # the client stages a large one under the run's prefix
