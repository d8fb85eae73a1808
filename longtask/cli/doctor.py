"""`longtask doctor`: check a stack and its account before the first run."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import Json, deployed_target, print_json, stdout
from .run import read_input_document

RunInput = Annotated[str | None, typer.Option(
    "--input", metavar="FILE|JSON", help="Check what this run input would use, over the stack's defaults.")]
MARKS = {True: "[green]✔[/]", False: "[red]✘[/]", None: "[yellow]?[/]"}


def doctor(ctx: typer.Context, input_document: RunInput = None, json_output: Json = False) -> None:
    """Check the stack and its account: deployed at this checkout's version, routes to S3 and the internet, image
    and architecture, instance types offered, vCPU quota, Spot role, table and bucket. One line per check; exits 1
    when any fails."""
    from ..doctor import Doctor

    checks = list(Doctor(deployed_target(ctx), read_input_document(input_document)).checks())
    if json_output:
        print_json([check.__dict__ for check in checks])
    else:
        for check in checks:
            stdout.print(f"{MARKS[check.ok]} {check.name}: {check.detail}", highlight=False)
    raise typer.Exit(1 if any(check.ok is False for check in checks) else 0)
