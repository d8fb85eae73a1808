"""`longtask queue` and `longtask queue set`: each queue's caps, what it runs, who waits and why."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .options import Json, connect, print_json, stderr, stdout

app = typer.Typer(help="List queues (caps, running, queued, why the first waits), or set a queue's caps.",
                  rich_markup_mode=None, invoke_without_command=True)  # fmt: skip

MaxRuns = Annotated[int | None, typer.Option("--max-runs", min=1, help="At most this many runs at once.")]
MaxVcpus = Annotated[int | None, typer.Option("--max-vcpus", min=1, help="At most this many vCPUs (of the types "
                                                                          "launched) at once.")]  # fmt: skip
NoMaxRuns = Annotated[bool, typer.Option("--no-max-runs", help="Lift the cap on runs.")]
NoMaxVcpus = Annotated[bool, typer.Option("--no-max-vcpus", help="Lift the cap on vCPUs.")]


@app.callback()
def queues(ctx: typer.Context, json_output: Json = False) -> None:
    """List each queue: caps, running, queued, and why the first queued run waits."""
    if ctx.invoked_subcommand is not None:
        return
    views = connect(ctx).queue_views()
    if json_output:
        print_json([{"queue": v.usage.name, "maxRuns": v.usage.max_runs, "maxVcpus": v.usage.max_vcpus,
                     "running": v.usage.running, "vcpus": v.usage.vcpus, "queued": v.waiting,
                     "headReason": v.head_reason} for v in views])  # fmt: skip
        return
    table = Table("queue", "maxRuns", "maxVcpus", "running", "vcpus", "queued", "why the first waits")
    for view in views:
        usage = view.usage
        table.add_row(usage.name, _cap(usage.max_runs), _cap(usage.max_vcpus), str(usage.running), str(usage.vcpus),
                      str(len(view.waiting)), view.head_reason or "")  # fmt: skip
    stdout.print(table)


@app.command("set")
def set_caps(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="The queue.")],
             max_runs: MaxRuns = None, max_vcpus: MaxVcpus = None, no_max_runs: NoMaxRuns = False,
             no_max_vcpus: NoMaxVcpus = False) -> None:  # fmt: skip
    """Set or lift a queue's caps, without a redeploy (a cap not named stays as it is)."""
    from ..client import KEEP

    runs = None if no_max_runs else (KEEP if max_runs is None else max_runs)
    vcpus = None if no_max_vcpus else (KEEP if max_vcpus is None else max_vcpus)
    usage = connect(ctx).set_queue(name, runs, vcpus)
    stderr.print(f"queue {usage.name}: at most {_cap(usage.max_runs)} runs and {_cap(usage.max_vcpus)} vCPUs at once "
                 f"(now {usage.running} runs, {usage.vcpus} vCPUs)")  # fmt: skip


def _cap(value: int | None) -> str:
    return "no cap" if value is None else str(value)
