"""`longtask run`: start a run of a script and follow it to its end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..durations import parse_duration
from ..errors import UserError
from .options import OUTPUT, Json, connect, key_values, print_json, stderr
from .render import show_record

if TYPE_CHECKING:
    from ..client import LongTaskClient

SCRIPT_PANEL, TIMING, INSTANCE, ATTEMPTS = "Script", "Timing", "Instance", "Spot, retries and budget"
QUEUE = "Queue"
Script = Annotated[
    str | None,
    typer.Argument(metavar="SCRIPT", help="Bash script: a file, '-' for stdin, or an s3:// URI (or the --input's)."),
]
InputDocument = Annotated[str | None, typer.Option(
    "--input", metavar="FILE|JSON", help="A whole execution input (docs/reference.md); the options override it.",
    rich_help_panel=SCRIPT_PANEL)]
Env = Annotated[list[str] | None, typer.Option(
    "--env", metavar="KEY=VALUE", help="Exported to the script; repeatable.", rich_help_panel=SCRIPT_PANEL)]
Secrets = Annotated[list[str] | None, typer.Option(
    "--secret", metavar="NAME=ARN", rich_help_panel=SCRIPT_PANEL,
    help="A Secrets Manager secret (ARN[:json-key]) or Parameter Store parameter ARN, read by the instance into NAME "
         "and masked in the log; repeatable.")]
Timeout = Annotated[int | None, typer.Option(
    parser=parse_duration, metavar="DURATION", help="Deadline, e.g. 30m or 2h (default: the stack's).",
    rich_help_panel=TIMING)]
Poll = Annotated[int | None, typer.Option(
    parser=parse_duration, metavar="DURATION", help="Time between instance checks (default: the stack's).",
    rich_help_panel=TIMING)]
MaxPoll = Annotated[int | None, typer.Option(
    parser=parse_duration, metavar="DURATION", help="Ceiling of the doubling poll interval.", rich_help_panel=TIMING)]
InstanceTypes = Annotated[list[str] | None, typer.Option(
    "--instance-type", metavar="TYPE", help="Instance type, tried in order; repeatable.", rich_help_panel=INSTANCE)]
Subnets = Annotated[list[str] | None, typer.Option(
    "--subnet", metavar="SUBNET_ID", help="Tried in order; repeatable.", rich_help_panel=INSTANCE)]
Image = Annotated[str | None, typer.Option(
    "--image", metavar="AMI_ID", help="The image (default: the stack's).", rich_help_panel=INSTANCE)]
PublicIp = Annotated[bool | None, typer.Option(
    "--public-ip/--no-public-ip", help="Give the instance a public IP or none.", rich_help_panel=INSTANCE)]
ElasticIp = Annotated[bool | None, typer.Option(
    "--elastic-ip", help="A fixed egress IP: an Elastic IP from the stack's pool (ElasticIpAllocationIds), held while "
                         "the instance lives.", rich_help_panel=INSTANCE)]
ElasticIpIds = Annotated[list[str] | None, typer.Option(
    "--elastic-ip-allocation-id", metavar="EIPALLOC", help="Take the address from these of the pool; repeatable.",
    rich_help_panel=INSTANCE)]
Tags = Annotated[list[str] | None, typer.Option(
    "--tag", metavar="KEY=VALUE", help="A tag on the instance; repeatable.", rich_help_panel=INSTANCE)]
Spot = Annotated[bool | None, typer.Option(
    "--spot/--on-demand", help="Ask for Spot (on-demand if none is left).", rich_help_panel=ATTEMPTS)]
OnDemandAfter = Annotated[int | None, typer.Option(
    "--on-demand-after-interruptions", metavar="N", help="Spot interruptions before on demand (1-5).",
    rich_help_panel=ATTEMPTS)]
Retries = Annotated[int | None, typer.Option(
    metavar="N", help="Fresh attempts (0-5) after EC2 ends one, or --retry-on-exit-code.", rich_help_panel=ATTEMPTS)]
RetryOn = Annotated[list[int] | None, typer.Option(
    "--retry-on-exit-code", metavar="CODE", help="An exit code (1-255) that relaunches; repeatable.",
    rich_help_panel=ATTEMPTS)]
Backoff = Annotated[int | None, typer.Option(
    "--retry-backoff", parser=parse_duration, metavar="DURATION", help="Wait before a relaunch; doubles.",
    rich_help_panel=ATTEMPTS)]
MaxCost = Annotated[float | None, typer.Option(
    "--max-cost", metavar="USD", help="End the run (BUDGET_EXCEEDED) before its cost passes this.",
    rich_help_panel=ATTEMPTS)]
Queue = Annotated[str | None, typer.Option(
    "--queue", metavar="NAME", help="The queue whose caps the run counts against (default: default).",
    rich_help_panel=QUEUE)]
Priority = Annotated[int | None, typer.Option(
    "--priority", metavar="0-1000", help="Higher starts first among the queue's waiting runs (default 500).",
    rich_help_panel=QUEUE)]
MaxQueue = Annotated[int | None, typer.Option(
    "--max-queue", parser=lambda text: 0 if text.strip() == "0" else parse_duration(text), metavar="DURATION",
    help="How long the run may wait queued, over all attempts (default 6h; 0 fails at once).", rich_help_panel=QUEUE)]
Stall = Annotated[int | None, typer.Option(
    "--stall", parser=parse_duration, metavar="DURATION",
    help="No output, checkpoint change or heartbeat for this long is a stall (off by default).",
    rich_help_panel=TIMING)]
OnStall = Annotated[str | None, typer.Option(
    "--on-stall", metavar="ACTION", help="On a stall: notify (default), fail (STALLED) or retry.",
    rich_help_panel=TIMING)]
HoldOnFailure = Annotated[int | None, typer.Option(
    "--hold-on-failure", parser=parse_duration, metavar="DURATION",
    help="Keep a failed script's instance up this long for inspection (`longtask release` ends it).",
    rich_help_panel=TIMING)]
NoWait = Annotated[bool, typer.Option("--no-wait", help="Print the run id and return at once.", rich_help_panel=OUTPUT)]


def run(
    ctx: typer.Context,
    script: Script = None,
    input_document: InputDocument = None,
    env: Env = None,
    secret: Secrets = None,
    timeout: Timeout = None,
    poll: Poll = None,
    max_poll: MaxPoll = None,
    instance_type: InstanceTypes = None,
    subnet: Subnets = None,
    image: Image = None,
    public_ip: PublicIp = None,
    elastic_ip: ElasticIp = None,
    elastic_ip_allocation_id: ElasticIpIds = None,
    tag: Tags = None,
    spot: Spot = None,
    on_demand_after_interruptions: OnDemandAfter = None,
    retries: Retries = None,
    retry_on_exit_code: RetryOn = None,
    retry_backoff: Backoff = None,
    max_cost: MaxCost = None,
    queue: Queue = None,
    priority: Priority = None,
    max_queue: MaxQueue = None,
    stall: Stall = None,
    on_stall: OnStall = None,
    hold_on_failure: HoldOnFailure = None,
    json_output: Json = False,
    no_wait: NoWait = False,
) -> None:
    """Run SCRIPT on a throwaway instance; exit 0 only if the run SUCCEEDED."""
    options = {"timeout_seconds": timeout, "poll_seconds": poll, "max_poll_seconds": max_poll,
               "env": key_values(env, "--env"), "secrets": key_values(secret, "--secret"),
               "instance_types": instance_type, "subnet_ids": subnet, "image_id": image,
               "associate_public_ip_address": public_ip, "elastic_ip": elastic_ip,
               "elastic_ip_allocation_ids": elastic_ip_allocation_id, "spot": spot,
               "on_demand_after_interruptions": on_demand_after_interruptions, "max_cost_usd": max_cost,
               "retries": retries, "retry_on_exit_codes": retry_on_exit_code, "retry_backoff_seconds": retry_backoff,
               "tags": key_values(tag, "--tag"), "queue": queue, "priority": priority,
               "max_queue_seconds": max_queue, "stall_seconds": stall, "on_stall": on_stall,
               "hold_on_failure_seconds": hold_on_failure}  # fmt: skip
    from ..api import checked, execution_input  # boto3 with it: not for `--help`

    text = typer.get_text_stream("stdin").read() if script == "-" else None
    run_input = checked(execution_input(None if text is not None else script, text,
                                        read_input_document(input_document), options))  # fmt: skip
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


def read_input_document(text: str | None) -> dict[str, Any]:
    """--input: a JSON file, or JSON text; an object."""
    if text is None:
        return {}
    path = Path(text)
    source = path.read_text() if not text.lstrip().startswith("{") and path.is_file() else text
    try:
        document = json.loads(source)
    except ValueError as error:
        raise UserError(f"--input: neither a JSON file nor JSON text ({error})") from None
    if not isinstance(document, dict):
        raise UserError(f"--input: an execution input is a JSON object, not {type(document).__name__}")
    return document


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
                elif item.get("status") == "QUEUED":
                    status.update(f"queued: {item.get('waitReason')}")
            if chunk:
                stderr.out(chunk.decode(errors="replace"), end="", style="dim")
        status.update("instance terminated; reading the outcome")
    return client.record(run_id)
