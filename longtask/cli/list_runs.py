"""`longtask list`: the newest runs from the Runs table."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from ..common.statuses import ACTIVE, FINAL, QUEUED
from ..errors import UserError
from .options import Json, connect, print_json, stdout
from .render import status_text

# in the order they are given up on a narrow terminal: the run id never (it is what every other command takes)
COLUMNS = ("runId", "status", "queue", "exitCode", "costUsd", "launchedAt", "finishedAt", "instanceId")
# a queued run: where it stands and why it waits
QUEUED_COLUMNS = ("runId", "queue", "priority", "position", "queuedAt", "waitReason")
Limit = Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs.")]
STATUSES = (*ACTIVE, *FINAL)
Status = Annotated[str | None, typer.Option("--status", help=f"Only runs with this status ({', '.join(STATUSES)}); "
                                            f"{QUEUED} shows each run's position and why it waits.")]  # fmt: skip


Queue = Annotated[str | None, typer.Option("--queue", help="Only runs of this queue.")]


def list_runs(ctx: typer.Context, limit: Limit = 20, status: Status = None, queue: Queue = None,
              json_output: Json = False) -> None:  # fmt: skip
    """List runs, newest first."""
    if status is not None and status.upper() not in STATUSES:
        raise UserError(f"--status {status}: use one of {', '.join(STATUSES)}")
    client = connect(ctx)
    runs = client.list_runs(limit, status.upper() if status else None, queue)
    columns = COLUMNS
    if status is not None and status.upper() == QUEUED:
        runs, columns = client.with_positions(runs), QUEUED_COLUMNS
    if json_output:
        print_json(runs)
        return
    stdout.print(runs_view(runs, stdout.width, columns))


def runs_view(runs: list[dict], width: int, columns: tuple[str, ...] = COLUMNS) -> RenderableType:
    """The runs as a table that fits width, with whole run ids and as many of the other columns as fit; when
    not even the run ids fit, a line per run ("runId status") that the terminal wraps but nothing cuts."""
    cells = [[_cell(run, column) for column in columns] for run in runs]
    shown = len(columns)
    while shown > 2 and _width(columns[:shown], cells) > width:
        shown -= 1
    if _width(columns[:2], cells) > width:
        return Text.from_markup("\n".join(f"{row[0]} {row[1]}" for row in cells), overflow="ignore")
    table = Table(*columns[:shown])
    table.columns[0].no_wrap = True
    for row in cells:
        table.add_row(*row[:shown])
    return table


def _cell(run: dict, column: str) -> str:
    value = run.get(column)
    if column == "status":
        return status_text(value or "")
    if column == "costUsd" and value is not None:
        return f"{value:.4f}"
    return "" if value is None else str(value)


def _width(columns: tuple[str, ...], cells: list[list[str]]) -> int:
    """The width a table of these columns needs (rich's box: a border and two spaces of padding a column)."""
    widths = [max([len(name)] + [Text.from_markup(row[i]).cell_len for row in cells]) for i, name in enumerate(columns)]
    return sum(widths) + 3 * len(columns) + 1
