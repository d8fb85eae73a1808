"""`longtask release`: end a HOLDING run's hold; its instance reports the script's failure and ends."""

from __future__ import annotations

import typer

from .options import Json, RunId, connect, stderr
from .render import emit_record


def release(ctx: typer.Context, run_id: RunId, json_output: Json = False) -> None:
    """End the hold of a run whose failed script's instance is held for inspection."""
    record = connect(ctx).release(run_id)
    stderr.print(f"run [bold]{run_id}[/]: hold released; its instance ends within seconds")
    emit_record(record, json_output, with_log_tail=False)
