"""`longtask local up|down|status`: the local engine (LocalStack and the instance agent)."""

from __future__ import annotations

import typer

from ..local import engine
from ..local.paths import EnginePaths
from .options import Json, print_json, stderr

app = typer.Typer(help="Start, stop and inspect the local engine (LocalStack without Docker + instance agent).")


@app.command()
def up() -> None:
    """Start LocalStack and the instance agent (a no-op when they run)."""
    paths = EnginePaths.default()
    started = engine.up(paths)
    state = engine.status(paths)
    stderr.print(f"local engine {'started' if started else 'already up'} at {state.endpoint_url}")


@app.command()
def down() -> None:
    """Stop the instance agent (powering off its instances) and LocalStack."""
    stopped = engine.down(EnginePaths.default())
    stderr.print("local engine stopped" if stopped else "local engine was not running")


@app.command()
def status(json_output: Json = False) -> None:
    """Say whether the local engine is up."""
    state = engine.status(EnginePaths.default())
    if json_output:
        print_json({**state.__dict__, "up": state.up})
        return
    stderr.print(
        f"local engine {'[green]up[/]' if state.up else '[red]down[/]'} at {state.endpoint_url} "
        f"(LocalStack pid {state.localstack_pid}, agent pid {state.agent_pid})"
    )
    raise typer.Exit(0 if state.up else 1)
