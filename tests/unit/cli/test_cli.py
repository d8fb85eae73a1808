"""The CLI through Typer's runner, with a stand-in client: target options anywhere, errors, and `list`."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from longtask.cli import list_runs, options, run, status
from longtask.cli.main import app, main
from longtask.cli.options import TargetOptions, hoist_target_options
from longtask.errors import UserError

RUN_IDS = ["20261128-190000-abcdef", "a-run-started-by-an-eventbridge-rule-with-a-long-name-0123456789"]


class FakeClient:
    def __init__(self) -> None:
        self.asked: list[tuple[int, str | None, str | None]] = []
        self.started: list[dict[str, Any]] = []

    def start(self, run_input: dict[str, Any]) -> str:
        self.started.append(run_input)
        return RUN_IDS[0]

    def execution_arn(self, run_id: str) -> str:
        return f"arn:aws:states:us-east-1:123456789012:execution:longtask:{run_id}"

    def list_runs(self, limit: int, status: str | None = None, queue: str | None = None) -> list[dict[str, Any]]:
        self.asked.append((limit, status, queue))
        times = {"launchedAt": "2026-11-28T19:00:00Z", "finishedAt": "2026-11-28T19:00:09Z"}
        return [{"runId": run_id, "status": "SUCCEEDED", "exitCode": 0, "costUsd": 0.000123, **times,
                 "instanceId": "i-0123456789abcdef0"} for run_id in RUN_IDS]  # fmt: skip

    def record(self, run_id: str) -> dict[str, Any]:
        return {"runId": run_id, "status": "RUNNING"}


@pytest.fixture
def connected(monkeypatch: pytest.MonkeyPatch) -> tuple[list[TargetOptions], FakeClient]:
    """Every command's connect() replaced: records the target it was asked for, returns a FakeClient."""
    targets: list[TargetOptions] = []
    fake = FakeClient()

    def connect(ctx: Any) -> FakeClient:
        targets.append(ctx.find_root().obj)
        return fake

    for module in (list_runs, run, status):
        monkeypatch.setattr(module, "connect", connect)
    monkeypatch.delenv("LONGTASK_STACK", raising=False)
    return targets, fake


def invoke(*args: str, input: str | None = None, **env: str) -> Any:
    return CliRunner().invoke(app, hoist_target_options(list(args)), input=input, env={"COLUMNS": "200", **env})


@pytest.mark.parametrize(
    "args",
    [
        ["--aws", "--stack", "prod", "--region", "eu-west-1", "status", "r1"],
        ["status", "r1", "--aws", "--stack", "prod", "--region", "eu-west-1"],
        ["status", "--stack=prod", "r1", "--region=eu-west-1", "--aws"],
    ],
)
def test_target_options_are_taken_before_or_after_the_command(connected: Any, args: list[str]) -> None:
    targets, _ = connected
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert targets == [TargetOptions(aws=True, stack="prod", region="eu-west-1")]


def test_target_options_come_from_the_environment_too(connected: Any) -> None:
    targets, _ = connected
    assert invoke("status", "r1", LONGTASK_STACK="from-env", AWS_PROFILE="ops").exit_code == 0
    assert targets == [TargetOptions(stack="from-env", profile="ops")]


def test_nothing_after_a_double_dash_is_moved() -> None:
    assert hoist_target_options(["run", "x.sh", "--", "--aws"]) == ["run", "x.sh", "--", "--aws"]
    assert hoist_target_options(["run", "x.sh", "--stack"]) == ["--stack", "run", "x.sh"]  # Typer: needs a value


def test_list_is_newest_first_with_status_and_limit(connected: Any) -> None:
    _, fake = connected
    result = invoke("list", "--status", "failed", "--limit", "5", "--queue", "nightly", "--json")
    assert result.exit_code == 0, result.output
    assert fake.asked == [(5, "FAILED", "nightly")]


@pytest.mark.parametrize("width", [40, 80, 200])
def test_list_never_cuts_a_run_id(width: int) -> None:
    console = Console(width=width, record=True, file=io.StringIO(), soft_wrap=True)  # as the CLI's stdout
    console.print(list_runs.runs_view(FakeClient().list_runs(20), width))
    shown = console.export_text()
    for run_id in RUN_IDS:
        assert run_id in shown
    assert ("i-0123456789abcdef0" in shown) == (width == 200)  # the last column goes first


def test_list_prints_the_runs_with_their_cost(connected: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(options.stdout, "width", 200)  # a terminal as wide as the table (without one: 80)
    result = invoke("list")
    assert result.exit_code == 0, result.output
    assert RUN_IDS[0] in result.output and "costUsd" in result.output and "0.0001" in result.output


def test_a_bad_status_is_a_named_error(connected: Any) -> None:
    result = invoke("list", "--status", "DONE")
    assert isinstance(result.exception, UserError)
    assert "--status DONE: use one of QUEUED, RUNNING" in str(result.exception)


def test_main_prints_one_line_and_exits_2(connected: Any, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setattr("sys.argv", ["longtask", "list", "--status", "DONE"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().startswith("error: --status DONE")


def test_key_values_name_the_bad_pair() -> None:
    assert options.key_values(["A=1", "B=x=y"], "--env") == {"A": "1", "B": "x=y"}
    with pytest.raises(UserError, match="--env 'oops': write KEY=VALUE"):
        options.key_values(["oops"], "--env")


def test_run_takes_every_execution_input(connected: Any, tmp_path: Any) -> None:
    _, fake = connected
    script = tmp_path / "job.sh"
    script.write_text("echo hi\n")
    result = invoke("run", str(script), "--no-wait", "--spot", "--retries", "2", "--retry-on-exit-code", "75",
                    "--retry-on-exit-code", "76", "--retry-backoff", "1m", "--max-poll", "10m", "--subnet",
                    "subnet-0123456789abcdef0", "--image", "ami-0123456789abcdef0", "--no-public-ip", "--max-cost",
                    "2.5", "--on-demand-after-interruptions", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert fake.started == [{"script": "echo hi\n", "spot": True, "onDemandAfterInterruptions": 2, "maxCostUsd": 2.5,
                             "retries": 2, "retryOnExitCodes": [75, 76],
                             "retryBackoffSeconds": 60, "maxPollSeconds": 600,
                             "subnetIds": ["subnet-0123456789abcdef0"], "imageId": "ami-0123456789abcdef0",
                             "associatePublicIpAddress": False}]  # fmt: skip


@pytest.mark.parametrize(("max_queue", "seconds"), [("2h", 7200), ("0", 0)])
def test_run_names_its_queue_and_how_long_it_may_wait(connected: Any, tmp_path: Any, max_queue: str,
                                                        seconds: int) -> None:  # fmt: skip
    _, fake = connected
    script = tmp_path / "job.sh"
    script.write_text("echo hi\n")
    result = invoke("run", str(script), "--no-wait", "--queue", "nightly", "--priority", "800",
                    "--max-queue", max_queue)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert fake.started == [{"script": "echo hi\n", "queue": "nightly", "priority": 800, "maxQueueSeconds": seconds}]


def test_run_options_override_the_input_document(connected: Any, tmp_path: Any) -> None:
    _, fake = connected
    document = tmp_path / "input.json"
    document.write_text('{"scriptS3Uri": "s3://bucket/job.sh", "retries": 1, "spot": true}')
    assert invoke("run", "--input", str(document), "--retries", "3", "--no-wait").exit_code == 0
    inline = '{"scriptS3Uri": "s3://bucket/job.sh"}'
    assert invoke("run", "-", "--input", inline, "--no-wait", input="date\n").exit_code == 0
    assert fake.started == [{"scriptS3Uri": "s3://bucket/job.sh", "retries": 3, "spot": True}, {"script": "date\n"}]


@pytest.mark.parametrize(("args", "named"), [
    (["--input", "[1]"], "--input: an execution input is a JSON object, not list"),
    (["--input", "{oops"], "--input: neither a JSON file nor JSON text"),
    ([], "give a script"),
])  # fmt: skip
def test_run_input_mistakes_are_named_and_start_nothing(connected: Any, args: list[str], named: str) -> None:
    _, fake = connected
    result = invoke("run", *args)
    assert isinstance(result.exception, UserError) and named in str(result.exception)
    assert fake.started == []


@pytest.mark.parametrize(("args", "named"), [
    (["--on-stall", "fail"], "invalid input: onStall 'fail' acts on a stall; set stallSeconds too"),
    (["--secret", "DB=arn:aws:s3:::bucket/key"], "invalid input: secrets {'DB': 'arn:aws:s3:::bucket/key'}: not a"),
])  # fmt: skip
def test_input_the_launcher_would_refuse_is_named_before_anything_starts(connected: Any, args: list[str],
                                                                         named: str) -> None:  # fmt: skip
    _, fake = connected
    result = invoke("run", "-", *args, input="date\n")
    assert str(result.exception).startswith(named)
    assert fake.started == []


def test_run_help_groups_the_options_under_headings() -> None:
    result = invoke("run", "--help")
    assert result.exit_code == 0, result.output
    headings = [line.rstrip(":") for line in result.output.splitlines() if line and not line[0].isspace()][1:]
    assert headings == ["Arguments", "Script", "Timing", "Instance", "Spot, retries and budget", "Queue", "Output",
                        "Options"]  # fmt: skip
    spot_section = result.output.split("Spot, retries and budget:")[1].split("Output:")[0]
    assert "--max-cost USD" in spot_section and "--retry-on-exit-code CODE" in spot_section


@pytest.mark.parametrize("command", [["deploy", "--yes"], ["console", "--no-browser"], ["list"]])
def test_aws_without_credentials_says_what_to_do(tmp_path: Any, command: list[str]) -> None:
    """Never the instance metadata service (AWS_EC2_METADATA_DISABLED): no address but loopback on this machine."""
    missing = str(tmp_path / "none")
    env = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None, "AWS_PROFILE": None,
           "AWS_SHARED_CREDENTIALS_FILE": missing, "AWS_CONFIG_FILE": missing, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None, "AWS_CONTAINER_CREDENTIALS_FULL_URI": None}  # fmt: skip
    args = hoist_target_options([*command, "--aws", "--region", "eu-west-1"])
    result = CliRunner().invoke(app, args, env=env)
    assert isinstance(result.exception, UserError), result.output
    assert "no AWS credentials found: run `aws configure` or `aws sso login`" in str(result.exception)
