"""`longtask logs`: a run's console log (cloud-init-output.log), optionally followed live."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from .options import Json, RunId, connect, stdout

Follow = Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the run ends.")]


def logs(ctx: typer.Context, run_id: RunId, follow: Follow = False, json_output: Json = False) -> None:
    """Print the run's log as uploaded by its instance (about every 30 s while it runs)."""
    client = connect(ctx)
    client.execution(run_id)  # a clear error for an unknown run id
    chunks = client.follow_log(run_id) if follow else iter([client.log_since(run_id, 0)])
    if json_output:
        text = b"".join(chunks).decode(errors="replace")
        stdout.out(json.dumps({"runId": run_id, "log": text}))
        return
    for chunk in chunks:
        if chunk:
            stdout.out(chunk.decode(errors="replace"), end="")
