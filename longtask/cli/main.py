"""The `longtask` command: run scripts on throwaway EC2 instances through the deployed workflow.

The target options (--aws, --stack, --region, --profile) go before or after the command."""

from __future__ import annotations

import sys

import typer

from ..errors import LongTaskError
from . import (
    abort,
    console,
    deploy,
    destroy,
    doctor,
    exec_command,
    list_runs,
    local,
    logs,
    queue,
    release,
    run,
    shell,
    status,
)
from .grouped_help import GroupedHelpCommand
from .options import Aws, Profile, Region, StackName, TargetOptions, hoist_target_options, stderr

# Plain (Click) help: Typer's Rich help imports Rich's Markdown and panels, 0.35 s of a `--help` that should be instant.
app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__, rich_markup_mode=None)
app.command(cls=GroupedHelpCommand)(run.run)
app.command()(status.status)
app.command()(logs.logs)
app.command("list")(list_runs.list_runs)
app.command()(abort.abort)
app.command()(release.release)
app.command("exec")(exec_command.exec_command)
app.command()(shell.shell)
app.command()(console.console)
app.command()(deploy.deploy)
app.command()(doctor.doctor)
app.command()(destroy.destroy)
app.add_typer(queue.app, name="queue")
app.add_typer(local.app, name="local")


@app.callback()
def target(ctx: typer.Context, aws: Aws = False, stack: StackName = "longtask", region: Region = None,
           profile: Profile = None) -> None:  # fmt: skip
    ctx.obj = TargetOptions(aws, stack, region, profile)


def main() -> None:
    """Entry point: errors the user can act on print one line and exit 2; crashes keep their traceback."""
    try:
        app(args=hoist_target_options(sys.argv[1:]), prog_name="longtask", standalone_mode=True)
    except LongTaskError as error:
        stderr.print(f"[red]error:[/] {error}")
        sys.exit(2)
    except Exception as error:
        from botocore.exceptions import BotoCoreError, ClientError  # not imported for `--help`

        if not isinstance(error, (ClientError, BotoCoreError)):
            raise
        stderr.print(f"[red]AWS error:[/] {error}")
        sys.exit(2)
