"""`longtask local up|down|status`: the local engine (LocalStack and the instance agent)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..local_engine import engine_module
from ..local_engine import paths as engine_paths
from .options import Json, RunId, print_json, stderr, stdout

app = typer.Typer(help="Start, stop and inspect the local engine (LocalStack without Docker + instance agent).",
                  rich_markup_mode=None)


@app.command()
def up() -> None:
    """Start LocalStack and the instance agent (a no-op when they run)."""
    engine, paths = engine_module(), engine_paths()
    started = engine.up(paths)
    state = engine.status(paths)
    stderr.print(f"local engine {'started' if started else 'already up'} at {state.endpoint_url}")


@app.command()
def down() -> None:
    """Stop the instance agent (powering off its instances) and LocalStack."""
    stopped = engine_module().down(engine_paths())
    stderr.print("local engine stopped" if stopped else "local engine was not running")


@app.command()
def status(json_output: Json = False) -> None:
    """Say whether the local engine is up."""
    state = engine_module().status(engine_paths())
    if json_output:
        print_json({**state.__dict__, "up": state.up})
        return
    stderr.print(
        f"local engine {'[green]up[/]' if state.up else '[red]down[/]'} at {state.endpoint_url} "
        f"(LocalStack pid {state.localstack_pid}, agent pid {state.agent_pid})"
    )
    raise typer.Exit(0 if state.up else 1)


@app.command()
def interrupt(
    ctx: typer.Context,
    run_id: RunId,
    notice_seconds: Annotated[int, typer.Option(
        "--notice-seconds", min=1, max=3600, help="Seconds from the notice until EC2 reclaims the instance.")] = 120,
) -> None:  # fmt: skip
    """Give a Spot run's instance the interruption notice, as AWS FIS does on AWS
    (aws:ec2:send-spot-instance-interruptions): the bootstrap stops the script, which may save a checkpoint, and
    EC2 reclaims the instance when the notice's time comes."""
    ec2, paths = _engine_ec2(ctx)
    notice = engine_module("host.interruptions").send_spot_interruption(ec2, paths, run_id, notice_seconds)
    stderr.print(f"interruption notice given to {notice.instance_id}: EC2 reclaims it at {notice.time}")


@app.command()
def rebalance(ctx: typer.Context, run_id: RunId) -> None:
    """Give a Spot run's instance a rebalance recommendation, as EC2 does when its risk of interruption rises:
    the bootstrap syncs the checkpoint at once and the script goes on."""
    ec2, paths = _engine_ec2(ctx)
    notice = engine_module("host.interruptions").send_rebalance_recommendation(ec2, paths, run_id)
    stderr.print(f"rebalance recommendation given to {notice.instance_id} at {notice.time}")


def _engine_ec2(ctx: typer.Context) -> tuple[Any, Any]:
    """The engine's EC2 client for the chosen stack, and the engine's folders (where its instances' IMDS reads)."""
    paths = engine_paths()
    return engine_module().target(paths, ctx.find_root().obj.stack).client("ec2"), paths


@app.command("iam-report")
def iam_report(ctx: typer.Context, json_output: Json = False) -> None:
    """For each role of the stack: every action it was allowed (and by which statement), every denial and
    why, and each statement nothing used (with why it is kept). Exits 1 when a statement is unused without
    a reason to keep it."""
    from rich.table import Table

    build = engine_module("in_localstack.iam.report").build
    paths = engine_paths()
    stack = ctx.find_root().obj.stack
    target = engine_module().target(paths, stack)
    resources = target.client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    roles = [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::IAM::Role"]
    reports = build(paths.iam_decisions, target.client("iam"), roles)
    if json_output:
        print_json([{"principal": r.principal,
                     "allowed": [{"action": action, "statement": statement, "calls": calls,
                                  "resources": sorted(r.resources[(action, statement)])}
                                 for (action, statement), calls in sorted(r.allowed.items())],
                     "denied": [dict(zip(("action", "resource", "reason", "count"), (*k, n), strict=True))
                                for k, n in sorted(r.denied.items())],
                     "unused": [{"statement": s, "kept": why} for s, why in r.unused]} for r in reports])  # fmt: skip
    else:
        for report in reports:
            table = Table(title=report.principal, title_justify="left", show_lines=False)
            for column in ("action", "resource", "decided by", "calls"):
                table.add_column(column)
            for (action, statement), count in sorted(report.allowed.items()):
                resources = report.resources[(action, statement)]
                shown = next(iter(resources)) if len(resources) == 1 else f"{len(resources)} resources"
                table.add_row(action, shown, f"[green]{_short(statement)}[/]", str(count))
            for (action, resource, reason), count in sorted(report.denied.items()):
                table.add_row(action, resource, f"[red]denied: {reason}[/]", str(count))
            for statement, why in report.unused:
                kept = f"(kept: {why})" if why else ""
                table.add_row("", "", f"[yellow]unused: {_short(statement)}[/] {kept}", "0")
            stdout.print(table)
    raise typer.Exit(1 if any(not why for r in reports for _, why in r.unused) else 0)


def _short(statement: str) -> str:
    """A statement's label without its role's name (the table's title)."""
    return statement.split("/", 1)[-1]
