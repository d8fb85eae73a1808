"""Where a run's files live in the artifact bucket (the bootstrap writes them under these names)."""

from __future__ import annotations

from dataclasses import dataclass

RUNS_PREFIX = "runs/"
LOG = "cloud-init-output.log"
RESULT = "result.json"
ARTIFACTS = "artifacts/"
LIVE_LOG = "live-log/"  # chunks <attempt:02d>-<sequence:06d>.log, uploaded while the script runs
ATTEMPTS = "attempts/"  # attempts/<n>/: a relaunched attempt's log, kept, and its summary
ATTEMPT_SUMMARY = "attempt.json"  # what the attempt was and how it ended (the final record lists them)
STAGED_SCRIPT = "script.sh"  # a script too big for user data
DIAGNOSTICS = "diagnostics/"  # diagnostics/<stalledAt, compact>/: what the instance captured at a stall
STALL = "stall.json"  # beside them, last: the stall's report, on which the stack records and announces it
HOLD = "hold.json"  # the instance holds after a failure (holdOnFailureSeconds): the stack marks the run HOLDING
RELEASE = "release"  # written by `longtask release`: the holding instance sees it and ends its hold


@dataclass(frozen=True)
class RunKeys:
    """The keys of one run's files."""

    run_id: str

    @property
    def prefix(self) -> str:
        return f"{RUNS_PREFIX}{self.run_id}"

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def attempt_log(self, attempt: int) -> str:
        return self.key(f"{ATTEMPTS}{attempt}/{LOG}")

    def attempt_summary(self, attempt: int) -> str:
        return self.key(f"{ATTEMPTS}{attempt}/{ATTEMPT_SUMMARY}")

    def uris(self, bucket: str) -> dict[str, str]:
        """The URIs a run record carries; readers use these instead of rebuilding keys."""
        names = {"logUri": LOG, "liveLogUri": LIVE_LOG, "resultUri": RESULT, "artifactsUri": ARTIFACTS}
        return {field: s3_uri(bucket, self.key(name)) for field, name in names.items()}


def run_id_of_result_key(key: str, name: str = RESULT) -> str | None:
    """The run whose result.json (or other file `name` at the run's top) this key is (runs/<run id>/result.json),
    else None."""
    prefix, _, found = key.rpartition("/")
    if found != name or not prefix.startswith(RUNS_PREFIX) or "/" in prefix.removeprefix(RUNS_PREFIX):
        return None
    return prefix.removeprefix(RUNS_PREFIX) or None


def stall_of_key(key: str) -> tuple[str, str] | None:
    """(run id, diagnostics folder key) of a stall report (runs/<run id>/diagnostics/<time>/stall.json), else None."""
    parts = key.split("/")
    if len(parts) != 5 or f"{parts[0]}/" != RUNS_PREFIX or f"{parts[2]}/" != DIAGNOSTICS or parts[4] != STALL:
        return None
    return (parts[1], "/".join(parts[:4]) + "/") if parts[1] and parts[3] else None


def live_log_attempt(key: str) -> str:
    """The attempt a live-log chunk belongs to ("00" of ".../live-log/00-000003.log")."""
    return key.rsplit("/", 1)[1].split("-")[0]


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key
