"""`longtask exec RUN_ID -- CMD...`: run a command on a run's instance (SSM Run Command) beside its script."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer

from .options import RunId, connect

Command = Annotated[list[str], typer.Argument(help="The command and its arguments (after --).", metavar="CMD...")]


def exec_command(ctx: typer.Context, run_id: RunId, command: Command) -> None:
    """Run CMD on the run's instance while it is RUNNING or HOLDING; print its output and exit with its code."""
    invocation = connect(ctx).exec(run_id, shlex.join(command))
    sys.stdout.write(invocation.stdout)
    sys.stderr.write(invocation.stderr)
    raise typer.Exit(invocation.exit_code)
