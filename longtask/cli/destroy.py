"""`longtask destroy`: delete the stack; its runs (bucket and table) stay unless --delete-runs."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..errors import UserError
from .options import deployed_target, stderr

DeleteRuns = Annotated[bool, typer.Option(
    "--delete-runs", help="Delete the artifact bucket (every version) and the Runs table too.")]
Force = Annotated[bool, typer.Option("--force", help="Abort the RUNNING runs first instead of refusing.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")]


def destroy(ctx: typer.Context, delete_runs: DeleteRuns = False, force: Force = False, yes: Yes = False) -> None:
    """Delete the stack after saying what goes. Refuses while runs are RUNNING, unless --force."""
    from .. import destroy as teardown
    from ..client import LongTaskClient

    client = LongTaskClient(deployed_target(ctx))
    plan = teardown.plan(client, force)
    stderr.print(f"this {plan.describe(delete_runs)}" + (f", after aborting {len(plan.running)} RUNNING runs"
                                                         if plan.running and force else ""))  # fmt: skip
    if not yes:
        if not sys.stdin.isatty():
            raise UserError("destroy asks before deleting; add --yes where nobody can answer")
        typer.confirm("delete?", abort=True)
    teardown.destroy(client, plan, delete_runs)
    if not ctx.find_root().obj.aws:
        from ..local_engine import engine_module, paths

        engine_module("host.deploy").forget(plan.stack, paths())
    stderr.print(f"stack {plan.stack} deleted")
