"""The `longtask` command: run scripts on throwaway EC2 instances through the deployed workflow."""

from __future__ import annotations

import sys

import typer
from botocore.exceptions import BotoCoreError, ClientError

from ..client import RunNotFound
from ..local.localstack import EngineError
from . import abort, deploy, list_runs, local, logs, run, status
from .options import UserError, stderr

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.command()(run.run)
app.command()(status.status)
app.command()(logs.logs)
app.command("list")(list_runs.list_runs)
app.command()(abort.abort)
app.command()(deploy.deploy)
app.add_typer(local.app, name="local")


def main() -> None:
    """Entry point: user errors print one clear line and exit 2; crashes keep their traceback."""
    try:
        app()
    except (UserError, RunNotFound, EngineError) as error:
        stderr.print(f"[red]error:[/] {error}")
        sys.exit(2)
    except (ClientError, BotoCoreError) as error:
        stderr.print(f"[red]AWS error:[/] {error}")
        sys.exit(2)
