"""`longtask abort`: stop a run, terminate its instance, record it ABORTED."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import Aws, Json, Profile, Region, StackName, connect, print_json, stdout
from .render import show_record


def abort(
    run_id: Annotated[str, typer.Argument(help="The run id (the execution name).")],
    json_output: Json = False,
    aws: Aws = False,
    stack: StackName = "longtask",
    region: Region = None,
    profile: Profile = None,
) -> None:
    """Stop the execution and terminate the run's instance."""
    record = connect(aws, stack, region, profile).abort(run_id)
    if json_output:
        print_json(record)
    else:
        show_record(stdout, record, with_log_tail=False)
