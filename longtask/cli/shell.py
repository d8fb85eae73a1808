"""`longtask shell RUN_ID`: an interactive shell on a run's instance, through Session Manager."""

from __future__ import annotations

import os
import subprocess

import typer

from ..local_engine import engine_module, paths
from ..sessions import SessionTools, installed_tools, start_session_command
from .options import RunId, connect


def shell(ctx: typer.Context, run_id: RunId) -> None:
    """Open a shell on the run's instance while it is RUNNING or HOLDING: root, with the run's variables. On AWS it
    needs the AWS CLI and the Session Manager plugin (`longtask doctor` says whether it is installed)."""
    client = connect(ctx)
    instance_id = client.live_instance(run_id, "shell")
    tools = _engine_tools() if client.target.endpoint_url else installed_tools()
    argv, env = start_session_command(client.target, instance_id, tools)
    raise typer.Exit(subprocess.call(argv, env=env))


def _engine_tools() -> SessionTools:
    """The engine's AWS CLI, with its stand-in for the plugin first on the PATH."""
    aws, plugin_folder = engine_module("host.session_plugin").tools(paths())
    return SessionTools(aws, f"{plugin_folder}{os.pathsep}{os.environ.get('PATH', '')}")
