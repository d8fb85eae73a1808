"""Runs on the local engine, end to end: the real stack, state machine, Lambda code and bash."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from longtask_engine.host.deploy import LOCAL_RUNTIME
from longtask_engine.host.processes import is_alive
from longtask_engine.paths import EnginePaths

from longtask.client import LongTaskClient
from longtask.deployment import build_function
from longtask.waiting import poll_condition

from .engine_session import ROOT
from .support import instances_of, live_instances, watchers_running


def script_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "script.sh"
    path.write_text(text)
    return str(path)


def test_build_example_succeeds_with_log_tail_and_artifact(client: LongTaskClient, longtask: Any, tmp_path: Path):
    repo = subprocess.run([str(ROOT / "demo" / "make-repo.sh"), str(tmp_path / "repo")], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    result = longtask("run", "userdata/examples/build.sh", "--env", f"REPO_URL={repo}", "--env", "BINARY=bin/hello",
                      "--json")  # fmt: skip
    record = result.json
    assert (result.exit_code, record["status"], record["exitCode"]) == (0, "SUCCEEDED", 0)
    assert f"uploaded {record['artifactsUri']}hello" in record["logTail"]
    binary = client.s3.get_object(Bucket=client.stack.bucket, Key=f"runs/{record['runId']}/artifacts/hello")
    assert binary["Body"].read(4) == b"\x7fELF"
    assert live_instances(client, record["runId"]) == []


def test_lambda_code_is_unzipped_in_the_engines_own_folder(client: LongTaskClient) -> None:
    """Not in the machine's /tmp, which every engine shares and LocalStack never cleans (localstack.py)."""
    assert client.wait(client.start({"script": "true\n"}))["status"] == "SUCCEEDED"
    unzipped = [path.name for path in (EnginePaths.default().localstack_tmp / "lambda").glob("*/*")]
    assert any("LauncherFunction" in name for name in unzipped), unzipped


def test_functions_run_the_runtimes_sdk_not_one_of_their_own(client: LongTaskClient) -> None:
    """Their packages leave out boto3 and botocore (deployment.RUNTIME_PROVIDED), which Powertools' tracer would
    bring; the functions still run (the runtime has them)."""
    assert client.wait(client.start({"script": "true\n"}))["status"] == "SUCCEEDED"
    cache = EnginePaths.default().build / LOCAL_RUNTIME.tag
    deployed = build_function(ROOT / "functions" / "launcher", cache, LOCAL_RUNTIME)  # built: the cached zip
    names = zipfile.ZipFile(deployed).namelist()
    assert any(name.startswith("aws_xray_sdk/") for name in names)
    assert not any(name.startswith(("botocore/", "boto3/")) for name in names)


def test_script_exiting_3_fails_the_run(client: LongTaskClient, longtask: Any, tmp_path: Path) -> None:
    result = longtask("run", script_file(tmp_path, "echo about to fail\nexit 3\n"), "--json")
    record = result.json
    assert result.exit_code == 1
    assert (record["status"], record["exitCode"]) == ("FAILED", 3)
    execution = client.execution(record["runId"])
    assert (execution["status"], execution["error"]) == ("FAILED", "LongTask.ScriptFailed")
    assert client.item(record["runId"])["status"] == "FAILED"
    assert live_instances(client, record["runId"]) == []


def test_script_outliving_its_timeout_is_terminated(client: LongTaskClient, longtask: Any, tmp_path: Path) -> None:
    script = "echo script=$$\nsleep 300 &\necho child=$!\nwait\n"
    result = longtask("run", script_file(tmp_path, script), "--timeout", "3s", "--json")
    record = result.json
    assert (result.exit_code, record["status"]) == (1, "TIMED_OUT")
    assert client.execution(record["runId"])["error"] == "LongTask.TimedOut"
    assert [i["State"]["Name"] for i in instances_of(client, record["runId"])] == ["terminated"]
    pids = [int(pid) for pid in re.findall(r"(?:script|child)=(\d+)", record["logTail"])]
    assert len(pids) == 2
    assert poll_condition(lambda: not any(is_alive(pid) for pid in pids), timeout=15)


def test_seed_style_script_ending_with_shutdown_now(client: LongTaskClient, longtask: Any, tmp_path: Path) -> None:
    result = longtask("run", script_file(tmp_path, "echo building\ndate\nshutdown now"), "--json")
    record = result.json
    assert (result.exit_code, record["status"], record["exitCode"]) == (0, "SUCCEEDED", 0)
    assert record["reason"] == "the script called shutdown"
    # recorded once its OS shut it down, maybe while EC2 still keeps it shutting-down for a moment
    run_id = record["runId"]
    assert poll_condition(lambda: [i["State"]["Name"] for i in instances_of(client, run_id)] == ["terminated"], 10)


def test_invalid_input_launches_nothing(client: LongTaskClient) -> None:
    run_id = client.start({"script": "echo hi", "instanceTypes": ["not a type"], "pollSeconds": 0})
    record = client.wait(run_id)
    assert record["status"] == "INVALID_INPUT"
    assert "instanceTypes.0" in record["reason"] and "pollSeconds" in record["reason"]
    assert client.execution(run_id)["error"] == "LongTask.InvalidInput"
    assert client.item(run_id)["status"] == "INVALID_INPUT"
    assert instances_of(client, run_id) == []


def test_script_over_16_kb_is_staged_and_runs(client: LongTaskClient, longtask: Any, tmp_path: Path) -> None:
    script = "".join(f"echo line {n} > /dev/null\n" for n in range(1000)) + "echo big script done\n"
    assert len(script.encode()) > 16 * 1024
    record = longtask("run", script_file(tmp_path, script), "--json").json
    assert (record["status"], record["exitCode"]) == ("SUCCEEDED", 0)
    assert "big script done" in record["logTail"]
    staged = client.s3.get_object(Bucket=client.stack.bucket, Key=f"runs/{record['runId']}/script.sh")
    assert staged["Body"].read().decode() == script


def test_env_reaches_the_script(longtask: Any, tmp_path: Path) -> None:
    script = 'echo "greeting=$GREETING; id=$LONGTASK_RUN_ID"\n'
    record = longtask("run", script_file(tmp_path, script), "--env", "GREETING=hello there", "--json").json
    assert f"greeting=hello there; id={record['runId']}" in record["logTail"]


def test_ten_runs_at_once_are_all_recorded(client: LongTaskClient) -> None:
    run_ids = [client.start({"script": "sleep 2\necho done $LONGTASK_RUN_ID\n"}) for _ in range(10)]
    records = client.wait_all(run_ids)
    assert [r["status"] for r in records] == ["SUCCEEDED"] * 10
    for run_id, record in zip(run_ids, records, strict=True):
        assert f"done {run_id}" in record["logTail"]
        assert client.item(run_id)["status"] == "SUCCEEDED"
        assert live_instances(client, run_id) == []


def test_abort_stops_a_running_run(client: LongTaskClient, longtask: Any, tmp_path: Path) -> None:
    started = longtask("run", script_file(tmp_path, "echo started\nsleep 300\n"), "--no-wait")
    run_id = started.stdout.strip()
    assert started.exit_code == 0 and run_id, started.stderr
    assert poll_condition(lambda: (client.item(run_id) or {}).get("status") == "RUNNING", timeout=30)
    assert poll_condition(lambda: b"started" in client.log_since(run_id, 0), timeout=30)
    result = longtask("abort", run_id, "--json")
    assert (result.exit_code, result.json["status"]) == (0, "ABORTED")
    assert client.execution(run_id)["status"] == "ABORTED"
    assert poll_condition(lambda: live_instances(client, run_id) == [], timeout=30)
    # the state in flight when it stopped (a window's watcher) still completes, as on AWS; once it has, nothing
    # of the stopped execution is left to write, and the record it must not overwrite is still ABORTED
    assert poll_condition(lambda: not watchers_running(client, run_id), timeout=30)
    assert client.item(run_id)["status"] == "ABORTED"


def every_run(longtask: Any) -> dict[str, dict[str, Any]]:
    """`longtask list` of every run in the table, by run id: tests side by side (fifty at once, for one) start
    runs newer than a test's own, which the default 20 newest may not reach."""
    return {run["runId"]: run for run in longtask("list", "--limit", "100000", "--json").json}


def test_status_list_and_logs_show_a_finished_run(longtask: Any, tmp_path: Path) -> None:
    run_id = longtask("run", script_file(tmp_path, "echo visible in logs\n"), "--json").json["runId"]
    assert longtask("status", run_id, "--json").json["status"] == "SUCCEEDED"
    assert run_id in every_run(longtask)
    assert "visible in logs" in longtask("logs", run_id).stdout
    unknown = longtask("status", "no-such-run")
    assert unknown.exit_code == 2
    assert "no run no-such-run" in unknown.stderr


def test_cli_refuses_bad_options_before_launching(longtask: Any) -> None:
    missing = longtask("run", "no/such/script.sh")
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    bad_duration = longtask("run", "userdata/examples/hello.sh", "--timeout", "soon")
    assert bad_duration.exit_code == 2 and "is not a duration" in bad_duration.stderr


def test_a_finished_run_records_what_it_cost(client: LongTaskClient, longtask: Any) -> None:
    """Priced from the engine's Price List: a t3a.nano on demand, its root volume and its public IPv4 address (its
    route to S3 in the default VPC), for the minute EC2 bills at least."""
    from common.pricing import PUBLIC_IPV4_USD_PER_HOUR
    from longtask_engine.in_localstack.prices import regions

    # a second at least: EC2 gives the launch and the shutdown to the second, and a run of `echo` alone may end
    # within its first (0 s by them)
    record = client.wait(client.start({"script": "echo priced\nsleep 1\n", "associatePublicIpAddress": True}))
    assert record["status"] == "SUCCEEDED" and 0 < record["instanceSeconds"] < 60, record
    ec2 = client.target.client("ec2")
    image_id = ec2.describe_instances(InstanceIds=[record["instanceId"]])["Reservations"][0]["Instances"][0]["ImageId"]
    root = ec2.describe_images(ImageIds=[image_id])["Images"][0]["BlockDeviceMappings"][0]["Ebs"]
    listed = regions()["us-east-1"]
    volume = root["VolumeSize"] * float(listed["storageGbMonth"][root["VolumeType"]]) / 720
    hourly = float(listed["onDemandHourly"]["t3a.nano"]) + volume + PUBLIC_IPV4_USD_PER_HOUR
    assert record["costUsd"] == round(hourly / 60, 6)
    assert every_run(longtask)[record["runId"]]["costUsd"] == record["costUsd"]


def test_a_script_too_big_for_the_input_is_staged_and_runs(client: LongTaskClient) -> None:
    """300 KB of script: over Step Functions' 256 KiB input, so the client stages it under the run's prefix."""
    script = "# padding\n" * 30_000 + "echo big script done\n"
    run_id = client.start({"script": script})
    assert len(client.execution(run_id)["input"]) < 1024
    record = client.wait(run_id)
    assert record["status"] == "SUCCEEDED" and "big script done" in record["logTail"], record
