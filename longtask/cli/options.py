"""What every command shares: the target options (defined once, accepted before or after the command),
connecting to the stack, and output helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from ..errors import UserError

if TYPE_CHECKING:  # boto3 is imported when a command connects, not for `--help`
    from ..client import LongTaskClient, Target

stderr = Console(stderr=True, highlight=False)
stdout = Console(highlight=False, soft_wrap=True)

Aws = Annotated[bool, typer.Option("--aws", help="Talk to the stack deployed on AWS instead of the local engine.")]
StackName = Annotated[str, typer.Option("--stack", help="Name of the CloudFormation stack.", envvar="LONGTASK_STACK")]
Region = Annotated[str | None, typer.Option("--region", help="AWS region (default: your config).", envvar="AWS_REGION")]
Profile = Annotated[str | None, typer.Option("--profile", help="AWS profile (default: yours).", envvar="AWS_PROFILE")]
RunId = Annotated[str, typer.Argument(metavar="RUN_ID", help="The run id (the execution name).")]
OUTPUT = "Output"  # the help heading of how a command prints (grouped_help.py)
Json = Annotated[bool, typer.Option("--json", help="Print only the data, as JSON, on stdout.", rich_help_panel=OUTPUT)]

TARGET_FLAGS = ("--aws",)
TARGET_OPTIONS = ("--stack", "--region", "--profile")  # each takes a value


@dataclass(frozen=True)
class TargetOptions:
    """Which stack the command talks to (the root command's options)."""

    aws: bool = False
    stack: str = "longtask"
    region: str | None = None
    profile: str | None = None


def hoist_target_options(args: list[str]) -> list[str]:
    """The arguments with the target options moved in front of the command, where the root command reads them:
    as the AWS CLI takes its global options anywhere, `longtask run x.sh --aws` is `longtask --aws run x.sh`.
    Nothing after `--` is moved."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        if arg in TARGET_FLAGS or ("=" in arg and arg.split("=", 1)[0] in TARGET_OPTIONS):
            front.append(arg)
        elif arg in TARGET_OPTIONS:
            front += args[index : index + 2]
            index += 1
        else:
            rest.append(arg)
        index += 1
    return front + rest


def connect(ctx: typer.Context) -> LongTaskClient:
    """A client for the chosen stack: on AWS as configured, or on the local engine (started, deployed as needed)."""
    from ..targets import connect as connect_to

    chosen: TargetOptions = ctx.find_root().obj
    return connect_to(chosen.aws, chosen.stack, chosen.region, chosen.profile, progress=stderr.status)


def deployed_target(ctx: typer.Context) -> Target:
    """Where the chosen stack is, as deployed: on AWS, or on the local engine (which must be up; nothing is
    deployed, unlike connect())."""
    from ..client import Target

    chosen: TargetOptions = ctx.find_root().obj
    if chosen.aws:
        return Target(stack_name=chosen.stack, region=chosen.region, profile=chosen.profile)
    from ..errors import EngineError
    from ..local_engine import engine_module
    from ..local_engine import paths as engine_paths

    engine, paths = engine_module(), engine_paths()
    if not engine.status(paths).up:
        raise EngineError("the local engine is down; start it with `longtask local up` (or `longtask deploy`)")
    return engine.target(paths, chosen.stack)


def print_json(data: Any) -> None:
    stdout.out(json.dumps(data, indent=2, default=str))


def key_values(pairs: list[str] | None, option: str) -> dict[str, str]:
    """KEY=VALUE options as a dict."""
    result: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"{option} {pair!r}: write KEY=VALUE")
        result[key] = value
    return result
