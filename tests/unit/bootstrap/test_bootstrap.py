"""userdata/bootstrap.sh run by bash, with stand-ins for `aws` and `shutdown` on PATH."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from launcher.userdata import BootstrapConfig, render

STANDINS = Path(__file__).with_name("standins")
BUCKET = "bucket"
RUN = "runs/run-1"


@dataclass
class Instance:
    """A finished (or running) bootstrap and what it left behind."""

    root: Path
    process: subprocess.Popen

    @property
    def s3(self) -> Path:
        return self.root / "s3"

    def wait(self) -> Instance:
        self.process.wait(timeout=60)
        return self

    @property
    def result(self) -> dict:
        return json.loads((self.s3 / BUCKET / RUN / "result.json").read_text())

    @property
    def uploaded_log(self) -> str:
        return (self.s3 / BUCKET / RUN / "cloud-init-output.log").read_text()

    @property
    def shutdowns(self) -> list[str]:
        return (self.s3 / ".shutdown").read_text().splitlines()


def boot(
    tmp_path: Path,
    script: str | None,
    env: dict[str, str] | None = None,
    script_uri: str | None = None,
    deadline_in: int = 3600,
    objects: dict[str, str] | None = None,
    imds: str = "http://127.0.0.1:9",  # the discard port: nothing answers, as where there is no notice
    attempt: int = 0,
    machine: dict[str, str] | None = None,
) -> Instance:
    """Render the user data as the launcher does and run it as cloud-init would (output to the console log).

    objects: what is in S3 before the instance boots, by key in the bucket. machine: facts of the machine (its
    environment), over the defaults below.
    """
    config = BootstrapConfig("run-1", BUCKET, RUN, int(time.time()) + deadline_in, env or {}, script_uri, attempt)
    user_data = tmp_path / "user-data"
    user_data.write_text(render(config, inline_script=script))
    (tmp_path / "s3" / BUCKET).mkdir(parents=True)
    for key, body in (objects or {}).items():
        (tmp_path / "s3" / BUCKET / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "s3" / BUCKET / key).write_text(body)
    environment = {
        "PATH": f"{STANDINS}:{os.environ['PATH']}",
        "FAKE_S3": str(tmp_path / "s3"),
        "LONGTASK_CONSOLE_LOG": str(tmp_path / "cloud-init-output.log"),
        "LONGTASK_WORK_DIR": str(tmp_path / "work"),
        "LONGTASK_LOG_INTERVAL": "1",
        "LONGTASK_IMDS_ENDPOINT": imds,  # loopback only: never 169.254.169.254 on this machine
        "LONGTASK_NOTICE_INTERVAL": "1",
        **(machine or {}),
    }
    with (tmp_path / "cloud-init-output.log").open("w") as console:
        process = subprocess.Popen(
            ["bash", str(user_data)], env=environment, stdout=console, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Instance(tmp_path, process)


def assert_powered_off_once(instance: Instance) -> None:
    """One report, then one immediate power-off (whose SIGTERM to every process must not report again)."""
    time.sleep(0.6)  # let any process hit by the power-off's SIGTERM finish what it would do
    immediate = [call for call in instance.shutdowns if call == "-h now"]
    assert len(immediate) == 1, instance.shutdowns
    assert instance.shutdowns[-1] == "-h now"
    console = (instance.root / "cloud-init-output.log").read_text()
    assert console.count("finished with exit code") == 1, console


def test_success_reports_exit_zero_and_uploads_the_log(tmp_path: Path) -> None:
    instance = boot(tmp_path, "echo hello from the script").wait()
    assert instance.result["exitCode"] == 0
    assert instance.result["runId"] == "run-1"
    assert instance.result["signal"] is None
    assert "hello from the script" in instance.uploaded_log
    assert_powered_off_once(instance)


def test_result_and_log_go_up_in_one_process_unless_the_log_is_large(tmp_path: Path) -> None:
    """One AWS CLI process for both when the log is small; a log over the multipart threshold goes after result.json,
    so that it can never delay it."""
    (tmp_path / "small").mkdir(), (tmp_path / "large").mkdir()
    small = boot(tmp_path / "small", "echo a small log").wait()
    calls = (small.s3 / ".calls").read_text().splitlines()
    assert [call for call in calls if "result.json" in call or "report" in call] == [
        f"s3 cp --recursive {tmp_path}/small/work/report s3://{BUCKET}/{RUN}/"
    ]
    assert small.result["exitCode"] == 0 and "a small log" in small.uploaded_log
    large = boot(tmp_path / "large", "head -c 8388608 /dev/zero | tr '\\0' x; echo").wait()
    calls = (large.s3 / ".calls").read_text().splitlines()
    result_call = calls.index(f"s3 cp {tmp_path}/large/work/result.json s3://{BUCKET}/{RUN}/result.json")
    assert calls[result_call + 1] == f"s3 cp {tmp_path}/large/cloud-init-output.log s3://{BUCKET}/{RUN}/cloud-init-output.log"
    assert large.result["exitCode"] == 0 and len(large.uploaded_log) > 8 * 1024 * 1024


def test_an_upload_that_fails_for_a_moment_is_tried_again_and_its_error_shown(tmp_path: Path) -> None:
    instance = boot(tmp_path, "echo fine", machine={"FAKE_S3_FAIL_ONCE": "report"}).wait()
    calls = (instance.s3 / ".calls").read_text().splitlines()
    assert calls.count(f"s3 cp --recursive {tmp_path}/work/report s3://{BUCKET}/{RUN}/") == 2
    assert instance.result["exitCode"] == 0
    assert "Unable to locate credentials" in (tmp_path / "cloud-init-output.log").read_text()


def test_a_report_upload_that_hangs_is_given_up_and_tried_again_within_the_minute(tmp_path: Path) -> None:
    # a try that is stuck (its request never answered) must not take the whole minute with it
    instance = boot(tmp_path, "echo fine", machine={"FAKE_S3_HANG_ONCE": "report"}).wait()
    calls = (instance.s3 / ".calls").read_text().splitlines()
    assert calls.count(f"s3 cp --recursive {tmp_path}/work/report s3://{BUCKET}/{RUN}/") == 2
    assert instance.result["exitCode"] == 0


def test_a_refused_upload_is_tried_again_for_ten_seconds_not_sixty(tmp_path: Path) -> None:
    instance = boot(tmp_path, "echo fine", machine={"FAKE_S3_DENY": f"s3://{BUCKET}/{RUN}/"}).wait()
    calls = (instance.s3 / ".calls").read_text().splitlines()
    tries = calls.count(f"s3 cp --recursive {tmp_path}/work/report s3://{BUCKET}/{RUN}/")
    assert 5 <= tries <= 12, calls  # a second apart for the 10 s a policy change takes to be seen, then no more
    console = (tmp_path / "cloud-init-output.log").read_text()
    assert "(AccessDenied)" in console and "could not upload result.json and the log" in console
    assert instance.shutdowns[-1] == "-h now"  # and the instance still powers off


def test_nonzero_exit_is_reported(tmp_path: Path) -> None:
    instance = boot(tmp_path, "echo failing\nexit 3").wait()
    assert instance.result["exitCode"] == 3
    assert "failing" in instance.uploaded_log
    assert_powered_off_once(instance)


def test_set_e_failure_is_reported(tmp_path: Path) -> None:
    instance = boot(tmp_path, "set -e\nfalse\necho never").wait()
    assert instance.result["exitCode"] == 1
    assert "never" not in instance.uploaded_log
    assert_powered_off_once(instance)


@pytest.mark.parametrize("ending", ["shutdown now\n", "shutdown now", "shutdown -h now\n", "sudo_free=1; poweroff\n"])
def test_a_script_ending_with_shutdown_still_reports(tmp_path: Path, ending: str) -> None:
    instance = boot(tmp_path, f"echo built\n{ending}").wait()
    assert instance.result["exitCode"] == 0
    assert instance.result["shutdownRequested"] is True
    assert "built" in instance.uploaded_log
    assert_powered_off_once(instance)


def test_work_after_an_immediate_shutdown_does_not_run(tmp_path: Path) -> None:
    instance = boot(tmp_path, "echo before\nshutdown now\nsleep 2\necho after").wait()
    assert "before" in instance.uploaded_log
    assert "after" not in instance.uploaded_log
    assert_powered_off_once(instance)


def test_a_script_killed_by_a_signal_is_reported(tmp_path: Path) -> None:
    instance = boot(tmp_path, "echo doomed\nkill -KILL $$").wait()
    assert instance.result["exitCode"] == 137
    assert instance.result["signal"] == "SIGKILL"
    assert_powered_off_once(instance)


def test_terminating_the_instance_still_reports(tmp_path: Path) -> None:
    instance = boot(tmp_path, "echo working\nsleep 60")
    assert _eventually(lambda: (tmp_path / "work" / "script.pid").exists())
    instance.process.send_signal(signal.SIGTERM)
    instance.wait()
    assert instance.result["exitCode"] == 143
    assert instance.result["reason"] == "the bootstrap received SIGTERM"
    assert_powered_off_once(instance)


def test_env_and_run_facts_reach_the_script(tmp_path: Path) -> None:
    script = 'echo "greeting=$GREETING run=$LONGTASK_RUN_ID artifacts=$LONGTASK_ARTIFACTS_URI"'
    instance = boot(tmp_path, script, env={"GREETING": "hello world"}).wait()
    assert f"greeting=hello world run=run-1 artifacts=s3://{BUCKET}/{RUN}/artifacts/" in instance.uploaded_log


def test_a_staged_script_is_fetched_from_s3(tmp_path: Path) -> None:
    staged = {f"{RUN}/script.sh": "echo fetched from s3\n"}
    instance = boot(tmp_path, None, script_uri=f"s3://{BUCKET}/{RUN}/script.sh", objects=staged).wait()
    assert instance.result["exitCode"] == 0
    assert "fetched from s3" in instance.uploaded_log
    assert_powered_off_once(instance)


def test_a_script_that_cannot_be_fetched_fails_with_the_reason(tmp_path: Path) -> None:
    instance = boot(tmp_path, None, script_uri=f"s3://{BUCKET}/{RUN}/missing.sh").wait()
    assert instance.result["exitCode"] == 1
    assert instance.result["reason"] == f"could not fetch the script from s3://{BUCKET}/{RUN}/missing.sh"
    assert_powered_off_once(instance)


def test_the_backstop_is_scheduled_a_little_after_the_deadline(tmp_path: Path) -> None:
    instance = boot(tmp_path, "true", deadline_in=600).wait()
    assert instance.shutdowns[0] == "-h +30"  # 10 minutes left + 20 minutes of grace (longer than the guard takes)


def test_the_log_is_uploaded_while_the_script_runs_as_chunks_under_new_keys(tmp_path: Path) -> None:
    """The bucket is versioned: the live log goes up as new objects, the whole log once at the end."""
    instance = boot(tmp_path, "echo first line\nsleep 3\necho second line\nsleep 3\necho done")
    live = tmp_path / "s3" / BUCKET / RUN / "live-log"

    def chunks() -> list[Path]:
        return sorted(live.glob("*.log")) if live.is_dir() else []

    assert _eventually(lambda: any("first line" in c.read_text() for c in chunks()), timeout=4)
    assert instance.process.poll() is None and not (tmp_path / "s3" / BUCKET / RUN / "cloud-init-output.log").exists()
    instance.wait()
    assert [c.name for c in chunks()][:2] == ["00-000000.log", "00-000001.log"]
    joined = "".join(c.read_text() for c in chunks())
    assert instance.uploaded_log.startswith(joined)  # the chunks are the log's bytes, in order, each sent once
    assert "second line" in joined and "done" in instance.uploaded_log


def _eventually(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_spot_interruption_notice_reports_before_the_end(tmp_path: Path) -> None:
    server = _imds({})
    try:
        instance = boot(tmp_path, "echo working\nsleep 300", imds=server.endpoint)
        time.sleep(2)
        server.metadata.notices["spot/instance-action"] = '{"action": "terminate", "time": "2026-01-01T00:02:00Z"}'
        instance.wait()
    finally:
        server.stop()
    assert (instance.result["interrupted"], instance.result["spotNotice"]) == (True, True)
    assert instance.result["reason"] == "EC2 gave a Spot interruption notice (IMDS spot/instance-action)"
    assert "working" in instance.uploaded_log
    assert "-h now" not in instance.shutdowns  # EC2 reclaims it: the state reason will say Spot, not shutdown


COUNTER = """n=$(cat "$LONGTASK_CHECKPOINT_DIR/step" 2>/dev/null || echo 0)
echo "resuming at step $n"
trap 'echo "$n" >"$LONGTASK_CHECKPOINT_DIR/step"; echo "saved step $n"; exit 143' TERM
while [ "$n" -lt 1000 ]; do n=$((n + 1)); sleep 0.2 & wait $!; done
"""


def test_a_relaunched_attempt_restores_the_checkpoint_and_the_end_syncs_it(tmp_path: Path) -> None:
    script = 'n=$(cat "$LONGTASK_CHECKPOINT_DIR/step")\necho "resuming at step $n"\n'
    script += 'echo $((n + 1)) >"$LONGTASK_CHECKPOINT_DIR/step"'
    instance = boot(tmp_path, script, attempt=1, objects={f"{RUN}/checkpoint/step": "3\n"}).wait()
    assert "resuming at step 3" in instance.uploaded_log
    assert (instance.s3 / BUCKET / RUN / "checkpoint" / "step").read_text() == "4\n"
    calls = (instance.s3 / ".calls").read_text().splitlines()
    synced = calls.index(f"s3 sync {tmp_path}/work/checkpoint s3://{BUCKET}/{RUN}/checkpoint/")
    assert synced < calls.index(f"s3 cp --recursive {tmp_path}/work/report s3://{BUCKET}/{RUN}/")


def test_a_first_attempt_restores_nothing_and_an_unchanged_checkpoint_is_not_synced(tmp_path: Path) -> None:
    instance = boot(tmp_path, "echo no checkpoint", machine={"LONGTASK_CHECKPOINT_INTERVAL": "1"}).wait()
    assert not [call for call in (instance.s3 / ".calls").read_text().splitlines() if "sync" in call]


def test_the_checkpoint_is_synced_while_the_script_runs(tmp_path: Path) -> None:
    script = 'echo 1 >"$LONGTASK_CHECKPOINT_DIR/step"\nsleep 4'
    instance = boot(tmp_path, script, machine={"LONGTASK_CHECKPOINT_INTERVAL": "1"})
    assert _eventually(lambda: (tmp_path / "s3" / BUCKET / RUN / "checkpoint" / "step").exists(), timeout=3)
    assert instance.process.poll() is None
    instance.wait()


def _imds(notices: dict[str, str]) -> Any:
    """A local IMDS (longtask_engine.host.imds) serving these notices (path under meta-data/ -> JSON text)."""
    from longtask_engine.host.imds import InstanceMetadata, MetadataServer

    metadata = InstanceMetadata("i-0123456789abcdef0", "us-east-1", "us-east-1a", None, None, notices=notices)
    return MetadataServer(metadata).start()


def _in(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


def _notice_mid_run(tmp_path: Path, notices: dict[str, str], after: float) -> Instance:
    """The COUNTER script on an IMDS serving these notices, given the interruption notice `after` seconds."""
    server = _imds(notices)
    try:
        instance = boot(tmp_path, COUNTER, imds=server.endpoint, machine={"LONGTASK_REPORT_RESERVE_SECONDS": "5"})
        time.sleep(after)
        server.metadata.notices["spot/instance-action"] = json.dumps({"action": "terminate", "time": _in(60)})
        return instance.wait()
    finally:
        server.stop()


def test_a_spot_notice_stops_the_script_which_saves_its_checkpoint_before_the_report(tmp_path: Path) -> None:
    instance = _notice_mid_run(tmp_path, {}, after=1.5)
    saved = (instance.s3 / BUCKET / RUN / "checkpoint" / "step").read_text().strip()
    assert int(saved) > 0 and f"saved step {saved}" in instance.uploaded_log
    assert (instance.result["interrupted"], instance.result["spotNotice"]) == (True, True)
    assert instance.result["exitCode"] == 143  # the script's own exit, after its trap
    assert "wait_for" not in (tmp_path / "cloud-init-output.log").read_text()  # bash kept track of its children
    assert "-h now" not in instance.shutdowns  # EC2 reclaims it: the state reason will say Spot, not shutdown


def test_a_script_that_ignores_sigterm_is_killed_when_the_notice_leaves_only_the_reserve(tmp_path: Path) -> None:
    notice = json.dumps({"action": "terminate", "time": _in(8)})
    server = _imds({"spot/instance-action": notice})
    started = time.monotonic()
    try:
        instance = boot(tmp_path, "trap '' TERM\nsleep 300 & wait $!\nsleep 300", imds=server.endpoint,
                        machine={"LONGTASK_REPORT_RESERVE_SECONDS": "5"}).wait()  # fmt: skip
    finally:
        server.stop()
    assert instance.result["exitCode"] == 137 and instance.result["signal"] == "SIGKILL"
    assert time.monotonic() - started < 8  # killed after about 3 s: the reserve is left for the report


def test_a_rebalance_recommendation_syncs_the_checkpoint_and_the_script_goes_on(tmp_path: Path) -> None:
    """A recommendation is a risk, not a notice: the checkpoint goes up at once (well before the 60 s interval)."""
    script = 'echo 7 >"$LONGTASK_CHECKPOINT_DIR/step"\nsleep 4\necho "script went on"'
    server = _imds({"events/recommendations/rebalance": json.dumps({"noticeTime": _in(0)})})
    try:
        instance = boot(tmp_path, script, imds=server.endpoint)
        synced = tmp_path / "s3" / BUCKET / RUN / "checkpoint" / "step"
        assert _eventually(synced.exists, timeout=3.5) and instance.process.poll() is None
        instance.wait()
    finally:
        server.stop()
    assert "script went on" in instance.uploaded_log
    assert "EC2 recommends a rebalance" in instance.uploaded_log
    assert (instance.result["exitCode"], instance.result["interrupted"], instance.result["spotNotice"]) == (
        0, False, False)  # fmt: skip
    assert_powered_off_once(instance)


def test_an_interruption_notice_after_a_rebalance_recommendation_still_stops_the_script(tmp_path: Path) -> None:
    rebalance = {"events/recommendations/rebalance": json.dumps({"noticeTime": _in(0)})}
    instance = _notice_mid_run(tmp_path, rebalance, after=2.5)
    assert instance.result["reason"] == "EC2 gave a Spot interruption notice (IMDS spot/instance-action)"
    assert (instance.result["interrupted"], instance.result["spotNotice"]) == (True, True)
    assert "-h now" not in instance.shutdowns  # EC2 reclaims it
