"""The local engine's stand-in for the Session Manager plugin: the AWS CLI's `aws ssm start-session` calls
StartSession, then runs `session-manager-plugin RESPONSE REGION StartSession PROFILE PARAMETERS ENDPOINT` (RESPONSE:
the name of the environment variable that holds StartSession's answer, for plugins newer than 1.2.497.0; see
awscli/customizations/sessionmanager.py). The real plugin speaks WebSocket to ssmmessages; this one connects to
the local instance's loopback session port (sessions.py) and relays the user's terminal, raw, until the session
ends. `tools()` gives the CLI the engine's AWS CLI and a PATH on which this plugin is found."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import socket
import sys
import termios
import tty
from collections.abc import Iterator
from urllib.parse import urlsplit

from longtask_engine.paths import EnginePaths

VERSION = "1.2.650.0"  # a plugin version that takes the answer through the environment
PLUGIN = "session-manager-plugin"


def tools(paths: EnginePaths) -> tuple[str, str]:
    """The engine's AWS CLI, and the folder of a `session-manager-plugin` that runs this module."""
    folder = paths.state / "session-plugin"
    folder.mkdir(parents=True, exist_ok=True)
    plugin = folder / PLUGIN
    plugin.write_text(f'#!/bin/sh\nexec {sys.executable} -m longtask_engine.host.session_plugin "$@"\n')
    plugin.chmod(0o755)
    return str(paths.localstack_venv / "bin" / "aws"), str(folder)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--version"]:
        print(VERSION)
        return 0
    response = json.loads(os.environ.get(argv[0], argv[0]))
    stream = urlsplit(response["StreamUrl"])
    if stream.hostname != "127.0.0.1":
        print(f"{PLUGIN}: the local engine's sessions are on 127.0.0.1 only, not {stream.hostname}", file=sys.stderr)
        return 1
    size = shutil.get_terminal_size()
    handshake = {"SessionId": response["SessionId"], "TokenValue": response["TokenValue"], "rows": size.lines,
                 "cols": size.columns, "term": os.environ.get("TERM", "xterm")}  # fmt: skip
    print(f"\nStarting session with SessionId: {response['SessionId']}\n", flush=True)
    with socket.create_connection((stream.hostname, stream.port or 0), timeout=10) as connection, _raw(0):
        connection.settimeout(None)
        connection.sendall(json.dumps(handshake).encode() + b"\n")
        _relay(connection)
    print(f"\n\nExiting session with sessionId: {response['SessionId']}.\n", flush=True)
    return 0


def _relay(connection: socket.socket) -> None:
    """The terminal's input to the session, the session's output to the terminal, until the session closes."""
    watched: list[int | socket.socket] = [connection, 0]
    while True:
        readable, _, _ = select.select(watched, [], [])
        if connection in readable:
            data = connection.recv(65536)
            if not data:
                return
            os.write(1, data)
        if 0 in readable:
            data = os.read(0, 65536)
            if data:
                connection.sendall(data)
            else:  # the input has ended: the session goes on until it closes
                watched.remove(0)


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    """The terminal in raw mode, as the plugin sets it (keys, ^C included, go to the session), then restored."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSANOW)  # not TCSAFLUSH: what was typed ahead goes to the session
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

