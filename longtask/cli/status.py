"""`longtask status`: the run record of one run."""

from __future__ import annotations

import typer

from .options import Json, RunId, connect
from .render import emit_record


def status(ctx: typer.Context, run_id: RunId, json_output: Json = False) -> None:
    """Show a run's status, exit code, instance and where its log and artifacts are."""
    emit_record(connect(ctx).record(run_id), json_output, with_log_tail=True)
