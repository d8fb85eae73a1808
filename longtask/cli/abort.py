"""`longtask abort`: stop a run, terminate its instance, record it ABORTED."""

from __future__ import annotations

from .options import Aws, Json, Profile, Region, RunId, StackName, connect
from .render import emit_record


def abort(
    run_id: RunId,
    json_output: Json = False,
    aws: Aws = False,
    stack: StackName = "longtask",
    region: Region = None,
    profile: Profile = None,
) -> None:
    """Stop the execution and terminate the run's instance."""
    emit_record(connect(aws, stack, region, profile).abort(run_id), json_output, with_log_tail=False)
