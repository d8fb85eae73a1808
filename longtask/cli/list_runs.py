"""`longtask list`: the newest runs from the Runs table."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .options import Aws, Json, Profile, Region, StackName, connect, print_json, stdout
from .render import status_text

COLUMNS = ("runId", "status", "exitCode", "instanceId", "launchedAt", "finishedAt")


def list_runs(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs.")] = 20,
    json_output: Json = False,
    aws: Aws = False,
    stack: StackName = "longtask",
    region: Region = None,
    profile: Profile = None,
) -> None:
    """List runs, newest first."""
    runs = connect(aws, stack, region, profile).list_runs(limit)
    if json_output:
        print_json(runs)
        return
    table = Table(*COLUMNS)
    for run in runs:
        cells = [status_text(run[c]) if c == "status" else str(run.get(c) if run.get(c) is not None else "")
                 for c in COLUMNS]  # fmt: skip
        table.add_row(*cells)
    stdout.print(table)
