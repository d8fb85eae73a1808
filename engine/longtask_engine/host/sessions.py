"""Session Manager sessions on a local instance: the SSM agent's side of StartSession (plugins/ssm_provider.py).

On AWS the agent opens a pseudo-terminal and runs the session's command as `ssm-user` (`sh -c COMMAND` for
AWS-StartInteractiveCommand; a shell for the default document), and the Session Manager plugin relays the
user's terminal to it over a WebSocket data channel
(https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-getting-started-ssm-user-permissions.html).
Here each machine listens on a loopback port of its own (its folder's `ssm-session-port`); the engine's stand-in
plugin (session_plugin.py) connects, sends one handshake line (the session id and token StartSession returned,
and the terminal's size), then the two relay raw bytes. A session ends when its shell exits, the plugin hangs
up, TerminateSession marks it, or the machine powers off.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import json
import os
import pty
import select
import signal
import socket
import struct
import termios
import threading
from pathlib import Path
from typing import Any

PORT_FILE = "ssm-session-port"
SESSIONS = "sessions"  # <session id>.json handed over by StartSession; .terminated marks TerminateSession
SESSION_USER = "ssm-user"  # whom Session Manager starts a session as on Linux
DEFAULT_SHELL = "sh"  # SSM-SessionManagerRunShell's shell, when the handover names no command
HANDSHAKE_BYTES = 4096
LOOK_SECONDS = 0.2


def serve(directory: Path, env: dict[str, str], powered_off: threading.Event) -> None:
    """Listen for the machine's sessions until it powers off; its port goes in its folder for StartSession."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(LOOK_SECONDS)
    (directory / PORT_FILE).write_text(str(listener.getsockname()[1]))
    with listener:
        while not powered_off.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=_session, args=(connection, directory, env, powered_off), daemon=True).start()


def _session(connection: socket.socket, directory: Path, env: dict[str, str], powered_off: threading.Event) -> None:
    with connection:
        handover = _claim(connection, directory / SESSIONS)
        if handover is None:
            return
        home = directory / "home" / SESSION_USER
        home.mkdir(parents=True, exist_ok=True)
        session_env = {**env, "USER": SESSION_USER, "LOGNAME": SESSION_USER, "HOME": str(home),
                       "SHELL": "/bin/sh", "TERM": handover["term"]}  # fmt: skip
        pid, terminal = pty.fork()
        if pid == 0:  # the child: its own session, the pseudo-terminal its controlling terminal
            try:
                os.chdir(home)
                os.execvpe("sh", ["sh", "-c", handover["command"] or DEFAULT_SHELL], session_env)
            finally:
                os._exit(127)
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", handover["rows"], handover["cols"], 0, 0))
        terminated = directory / SESSIONS / f"{handover['sessionId']}.terminated"
        try:
            _relay(connection, terminal, lambda: powered_off.is_set() or terminated.exists())
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGHUP)  # as a terminal hung up: the shell and its jobs end
            os.close(terminal)
            os.waitpid(pid, 0)


def _claim(connection: socket.socket, sessions: Path) -> dict[str, Any] | None:
    """The handover this connection's handshake names, once, and only with its token; None otherwise."""
    connection.settimeout(10)
    try:
        handshake = json.loads(_line(connection))
        session_id = str(handshake["SessionId"])
        handover_path = sessions / f"{session_id}.json"
        handover = json.loads(handover_path.read_text())
        if not hmac.compare_digest(str(handshake["TokenValue"]), handover["token"]):
            return None
        handover_path.rename(handover_path.with_suffix(".opened"))  # a token opens one data channel
    except (OSError, ValueError, KeyError, TypeError):
        return None
    connection.settimeout(None)
    return {**handover, "rows": int(handshake.get("rows") or 24), "cols": int(handshake.get("cols") or 80),
            "term": str(handshake.get("term") or "xterm")}  # fmt: skip


def _line(connection: socket.socket) -> bytes:
    """The handshake line, read a byte at a time: what follows it is the user's typing, for the terminal."""
    line = b""
    while not line.endswith(b"\n") and len(line) < HANDSHAKE_BYTES:
        byte = connection.recv(1)
        if not byte:
            break
        line += byte
    return line


def _relay(connection: socket.socket, terminal: int, ended: Any) -> None:
    """Bytes both ways until either side closes or `ended()`."""
    while not ended():
        readable, _, _ = select.select([connection, terminal], [], [], LOOK_SECONDS)
        if connection in readable:
            data = connection.recv(65536)
            if not data:
                return
            os.write(terminal, data)
        if terminal in readable:
            try:
                data = os.read(terminal, 65536)
            except OSError:  # EIO: the shell has exited and closed the terminal
                return
            if not data:
                return
            connection.sendall(data)
