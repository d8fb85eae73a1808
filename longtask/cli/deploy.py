"""`longtask deploy`: deploy template.yaml to the local engine."""

from __future__ import annotations

from .options import StackName, connect, stderr


def deploy(stack: StackName = "longtask") -> None:
    """Package and deploy the application locally (on AWS use `sam build && sam deploy --guided`)."""
    client = connect(False, stack, None, None)
    stderr.print(f"stack [bold]{stack}[/] is deployed; state machine {client.stack.state_machine_arn}")
