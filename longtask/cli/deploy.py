"""`longtask deploy`: deploy template.yaml to the local engine."""

from __future__ import annotations

import typer

from ..errors import UserError
from .options import connect, stderr


def deploy(ctx: typer.Context) -> None:
    """Package and deploy the application locally (on AWS use `sam build && sam deploy --guided`)."""
    if ctx.find_root().obj.aws:
        raise UserError("deploy --aws is not built yet: on AWS use `sam build && sam deploy --guided` (README)")
    client = connect(ctx)
    stack = client.target.stack_name
    stderr.print(f"stack [bold]{stack}[/] is deployed; state machine {client.stack.state_machine_arn}")
