"""A LocalStack Lambda runtime executor that runs handlers as local processes (no Docker).

Loaded inside LocalStack (its own virtual environment) through the entry point
`localstack.lambda.runtime_executor: longtask`, selected with LAMBDA_RUNTIME_EXECUTOR=longtask.
Each execution environment is one `python -m longtask_engine.in_localstack.plugins.lambda_runtime` process that speaks
the protocol LocalStack's runtime-init speaks inside a container. It starts warm: a fork of its function version's
warm server (longtask_engine/warm_server.py, started when the version is prepared, stopped when it is cleaned up),
or from nothing while that server is not up yet.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import ClassVar

from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import ExecutorEndpoint
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import RuntimeExecutor
from localstack.utils.net import get_free_tcp_port

from longtask_engine.host import warm_server

HOST = "127.0.0.1"
RUNTIME = "longtask_engine.in_localstack.plugins.lambda_runtime"
WARM_SERVER_STOP_SECONDS = 2


class LocalProcessExecutor(RuntimeExecutor):
    """One Lambda execution environment as a local subprocess."""

    warm_servers: ClassVar[dict[str, subprocess.Popen]] = {}  # by _version_key, for the versions prepared

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.port = get_free_tcp_port()
        self.executor_endpoint = ExecutorEndpoint(id, container_address=HOST, container_port=self.port)
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.gettempdir()) / "longtask-lambda" / f"{id}.log"

    @staticmethod
    def _version_key(function_version: FunctionVersion) -> str:
        qualified = f"{function_version.id.qualified_arn()}:{function_version.config.internal_revision}"
        return hashlib.sha256(qualified.encode()).hexdigest()[:16]

    @staticmethod
    def _warm_socket(key: str) -> Path:
        return Path(tempfile.gettempdir()) / "longtask-lambda" / f"{key}.sock"

    def start(self, env_vars: dict[str, str]) -> None:
        self.executor_endpoint.start()
        code = Path(self.function_version.config.code.get_unzipped_code_location())
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            **{name: str(value) for name, value in env_vars.items()},
            "LAMBDA_TASK_ROOT": str(code),
            "PYTHONPATH": str(code),
            "PYTHONUNBUFFERED": "1",
            "LONGTASK_RUNTIME_PORT": str(self.port),
            "LONGTASK_RUNTIME_LOG": str(self.log_path),  # its standard output and error (lambda_runtime.py)
            # the AWS APIs over TLS, as on AWS (the bucket policy's aws:SecureTransport is evaluated)
            "AWS_ENDPOINT_URL": f"https://{HOST}:{config.GATEWAY_LISTEN[0].port}",
            "AWS_CA_BUNDLE": os.environ["LONGTASK_CA_BUNDLE"],
            # a function's own HTTPS calls (the notify function's webhook) trust the engine's certificate, which a
            # loopback receiver serves: nothing here is called beyond 127.0.0.1
            "SSL_CERT_FILE": os.environ["LONGTASK_CA_BUNDLE"],
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # in LocalStack's process group: stopping the engine ends it too
            self.process = subprocess.Popen(
                warm_server.call(Path(sys.executable), self._warm_socket(self._version_key(self.function_version)),
                                 sys.executable, "-m", RUNTIME),
                cwd=code,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.executor_endpoint.wait_for_startup()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.executor_endpoint.shutdown()

    def get_address(self) -> str:
        return HOST

    def get_endpoint_from_executor(self) -> str:
        return HOST

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{HOST}:{port}{self.executor_endpoint.get_endpoint_prefix()}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        return self.executor_endpoint.invoke(payload)

    def get_logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Unzip the code and start the version's warm server (in LocalStack's process group: stopping the engine
        ends it too)."""
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()
            key = cls._version_key(function_version)
            code = Path(function_version.config.code.get_unzipped_code_location())
            cls._warm_socket(key).parent.mkdir(parents=True, exist_ok=True)
            cls.warm_servers[key] = warm_server.start(Path(sys.executable), cls._warm_socket(key), f"{RUNTIME}:main",
                                                      f"{RUNTIME}:warm", code=code, own_session=False)  # fmt: skip

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Stop the version's warm server (LocalStack removes the unzipped code itself)."""
        server = cls.warm_servers.pop(cls._version_key(function_version), None)
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=WARM_SERVER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    @classmethod
    def validate_environment(cls) -> bool:
        return True


class LocalProcessExecutorPlugin(RuntimeExecutorPlugin):
    name = "longtask"

    def load(self, *args, **kwargs) -> type[RuntimeExecutor]:
        return LocalProcessExecutor
