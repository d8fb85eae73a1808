"""`longtask status`: the run record of one run."""

from __future__ import annotations

from .options import Aws, Json, Profile, Region, RunId, StackName, connect
from .render import emit_record


def status(
    run_id: RunId,
    json_output: Json = False,
    aws: Aws = False,
    stack: StackName = "longtask",
    region: Region = None,
    profile: Profile = None,
) -> None:
    """Show a run's status, exit code, instance and where its log and artifacts are."""
    emit_record(connect(aws, stack, region, profile).record(run_id), json_output, with_log_tail=True)
