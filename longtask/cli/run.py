"""`longtask run`: start a run of a script and follow it to its end."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..durations import parse_duration
from ..errors import UserError
from .options import Json, connect, key_values, print_json, stderr
from .render import show_record

if TYPE_CHECKING:
    from ..client import LongTaskClient

Script = Annotated[str, typer.Argument(help="Bash script to run: a file, '-' for stdin, or an s3:// URI.")]
Timeout = Annotated[
    int | None,
    typer.Option(parser=parse_duration, metavar="DURATION", help="Deadline, e.g. 30m or 2h (default: the stack's)."),
]
Poll = Annotated[
    int | None,
    typer.Option(
        parser=parse_duration, metavar="DURATION", help="Time between instance checks (default: the stack's)."
    ),
]
Env = Annotated[list[str] | None, typer.Option("--env", help="KEY=VALUE exported to the script.")]
InstanceTypes = Annotated[list[str] | None, typer.Option("--instance-type", help="Instance type, tried in order.")]
Tags = Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE tag on the instance.")]
NoWait = Annotated[bool, typer.Option("--no-wait", help="Print the run id and return at once.")]


def run(
    ctx: typer.Context,
    script: Script,
    timeout: Timeout = None,
    poll: Poll = None,
    env: Env = None,
    instance_type: InstanceTypes = None,
    tag: Tags = None,
    json_output: Json = False,
    no_wait: NoWait = False,
) -> None:
    """Run SCRIPT on a throwaway instance; exit 0 only if the run SUCCEEDED."""
    run_input = build_input(script, timeout, poll, key_values(env, "--env"), instance_type, key_values(tag, "--tag"))
    client = connect(ctx)
    run_id = client.start(run_input)
    if no_wait:
        print_json({"runId": run_id, "executionArn": client.execution_arn(run_id)}) if json_output else print(run_id)
        return
    stderr.print(f"run [bold]{run_id}[/] started")
    record = follow(client, run_id)
    if json_output:
        print_json(record)
    else:
        show_record(stderr, record, with_log_tail=False)
    raise typer.Exit(0 if record.get("status") == "SUCCEEDED" else 1)


def build_input(
    script: str, timeout: int | None, poll: int | None, env: dict[str, str],
    instance_types: list[str] | None, tags: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    """The execution input for these options."""
    run_input: dict[str, Any] = {}
    if script.startswith("s3://"):
        run_input["scriptS3Uri"] = script
    elif script == "-":
        run_input["script"] = typer.get_text_stream("stdin").read()
    else:
        path = Path(script)
        if not path.is_file():
            raise UserError(f"script {script}: no such file (give a path, '-' for stdin, or an s3:// URI)")
        run_input["script"] = path.read_text()
    optional = {"timeoutSeconds": timeout, "pollSeconds": poll, "env": env, "instanceTypes": instance_types,
                "tags": tags}  # fmt: skip
    run_input.update({name: value for name, value in optional.items() if value})
    return run_input


def follow(client: LongTaskClient, run_id: str) -> dict[str, Any]:
    """Show the run's progress on stderr (launch, instance, live log) until it ends; return its record."""
    announced = False
    with stderr.status("launching instance…") as status:
        for chunk in client.follow_log(run_id):
            if not announced:
                item = client.item(run_id) or {}
                if item.get("instanceId"):
                    status.update(f"running on {item['instanceId']} ({item.get('instanceType')})")
                    announced = True
            if chunk:
                stderr.out(chunk.decode(errors="replace"), end="", style="dim")
        status.update("instance terminated; reading the outcome")
    return client.record(run_id)
