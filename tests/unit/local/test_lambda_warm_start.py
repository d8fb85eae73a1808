"""A local Lambda environment started through its function version's warm server (lambda_executor.py): the fork
has the runtime's AWS SDK imported before the function's code is, with the function's code on its module search
path; started from nothing (no server), it has not. The environment speaks LocalStack's runtime protocol to a
stand-in of LocalStack's runtime endpoint."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from longtask_engine.host import warm_server

from longtask.waiting import poll_condition

RUNTIME = "longtask_engine.in_localstack.plugins.lambda_runtime"
HANDLER = """import sys
SDK_IMPORTED = "boto3" in sys.modules


def handler(event, context):
    return {"sdkImported": SDK_IMPORTED}
"""


class RuntimeEndpoint:
    """LocalStack's side of the runtime protocol: what each environment posted, by path."""

    def __init__(self) -> None:
        self.posted: dict[str, Any] = {}
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                endpoint.posted[self.path] = json.loads(body or b"null")
                self.send_response(202)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def folder() -> Iterator[Path]:
    """A short path: a socket's may not exceed 107 bytes. Holds the function's code in code/."""
    with tempfile.TemporaryDirectory(prefix="lambda") as name:
        (Path(name) / "code").mkdir()
        (Path(name) / "code" / "probe.py").write_text(HANDLER)
        yield Path(name)


@pytest.fixture
def endpoint() -> Iterator[RuntimeEndpoint]:
    runtime = RuntimeEndpoint()
    yield runtime
    runtime.server.shutdown()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def invoke(folder: Path, socket_path: Path, endpoint: RuntimeEndpoint, runtime_id: str) -> Any:
    """Start an environment as the executor does, invoke it once and return its response."""
    code, port = folder / "code", free_port()
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(code), "PYTHONUNBUFFERED": "1", "_HANDLER": "probe.handler",
           "LOCALSTACK_RUNTIME_ENDPOINT": endpoint.url, "LOCALSTACK_RUNTIME_ID": runtime_id,
           "LONGTASK_RUNTIME_PORT": str(port), "LONGTASK_RUNTIME_LOG": str(folder / f"{runtime_id}.log")}  # fmt: skip
    with (folder / f"{runtime_id}.log").open("ab") as log:
        command = warm_server.call(Path(sys.executable), socket_path, sys.executable, "-m", RUNTIME)
        process = subprocess.Popen(command, cwd=code, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    try:
        assert poll_condition(lambda: f"/status/{runtime_id}/ready" in endpoint.posted, 30, 0.05)
        invocation = {"invoke-id": f"{runtime_id}-1", "payload": "{}", "invoked-function-arn": ""}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invoke", data=json.dumps(invocation).encode())
        urllib.request.urlopen(request, timeout=10).close()
        response = f"/invocations/{runtime_id}-1/response"
        assert poll_condition(lambda: response in endpoint.posted, 30, 0.05), endpoint.posted
        return endpoint.posted[response]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_an_environment_forked_from_its_versions_warm_server_has_the_sdk_imported(folder: Path,
                                                                                   endpoint: RuntimeEndpoint) -> None:
    socket_path = folder / "warm.sock"
    server = subprocess.Popen(
        [sys.executable, "-m", "longtask_engine.host.warm_server", str(socket_path), str(os.getpid()),
         f"{RUNTIME}:main", f"{RUNTIME}:warm"],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(folder / "code")}, cwd=folder / "code",
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout.readline().startswith("warm-server: serving")
        assert invoke(folder, socket_path, endpoint, "warm") == {"sdkImported": True}
    finally:
        server.kill()
        server.wait()


def test_without_its_server_an_environment_starts_from_nothing(folder: Path, endpoint: RuntimeEndpoint) -> None:
    assert invoke(folder, folder / "no-server.sock", endpoint, "cold") == {"sdkImported": False}
