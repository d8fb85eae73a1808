"""`longtask abort`: stop a run; the reaper terminates its instance and records it ABORTED."""

from __future__ import annotations

import typer

from .options import Json, RunId, connect
from .render import emit_record


def abort(ctx: typer.Context, run_id: RunId, json_output: Json = False) -> None:
    """Stop the execution; its instance is terminated and the run recorded ABORTED."""
    emit_record(connect(ctx).abort(run_id), json_output, with_log_tail=False)
