"""`longtask console`: the web console of a stack, served on 127.0.0.1 only, opened in your browser."""

from __future__ import annotations

import threading
import webbrowser
from typing import Annotated

import typer

from .options import connect, stderr

Port = Annotated[int, typer.Option("--port", min=1, max=65535, help="The port on 127.0.0.1.")]
NoBrowser = Annotated[bool, typer.Option("--no-browser", help="Do not open a browser.")]


def console(ctx: typer.Context, port: Port = 8340, no_browser: NoBrowser = False) -> None:
    """Serve the console on 127.0.0.1:PORT (runs, a run's graph and log, start a run, queues, cost) until Ctrl-C."""
    import uvicorn

    from ..console.app import create_app

    client = connect(ctx)
    url = f"http://127.0.0.1:{port}/"
    stderr.print(f"console of stack {client.target.stack_name} at {url} (Ctrl-C stops it)")
    if not no_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(create_app(client), host="127.0.0.1", port=port, log_level="warning")
