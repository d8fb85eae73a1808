"""The process behind one local Lambda execution environment (standard library only, but for its warm-up).

Speaks LocalStack's runtime-init protocol: imports the handler, reports ready, then serves
POST /invoke and answers each invocation with POST .../response or .../error, like the AWS
Python runtime (errorType is the exception's class name, so Step Functions sees the same error).

The environment's standard output and error are its log file (LONGTASK_RUNTIME_LOG). What an invocation wrote
there is sent as that invocation's logs, which LocalStack stores in the function's CloudWatch Logs group, as
Lambda does with what a function writes while it runs
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html). LocalStack serves an environment
one invocation at a time, so what was written between its start and its end is its own.

An environment starts as a fork of its function version's warm server (host/warm_server.py, started by
lambda_executor.py), which has done `warm` with the environment's module search path (the function's code first,
then the runtime's boto3, LocalStack's): imported the AWS SDK and read its data files for the services the functions
call, most of what an environment's start would cost. The function's own code and dependencies are imported by the
environment itself, with its own environment variables, as on Lambda.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import traceback
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOG_ENV = "LONGTASK_RUNTIME_LOG"
SDK_SERVICES = ("dynamodb", "ec2", "events", "pricing", "s3", "stepfunctions", "xray")  # what functions/ call


def post(path: str, body: Any) -> None:
    request = urllib.request.Request(
        f"{os.environ['LOCALSTACK_RUNTIME_ENDPOINT']}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30):
        pass


def error_document(error: BaseException) -> dict[str, Any]:
    """The error document the AWS Python runtime sends for an unhandled exception."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": "",
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


class LambdaContext:
    """The attributes of the AWS context object that handlers and Powertools read."""

    def __init__(self, request_id: str, function_arn: str, timeout_seconds: float) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class OutputSince:
    """What the environment has written to its log file (its standard output and error) since it was made."""

    def __init__(self, log_path: str) -> None:
        self.log_path = log_path
        self.start = self._written()

    def text(self) -> str:
        end = self._written()
        with open(self.log_path, "rb") as log:
            log.seek(self.start)
            return log.read(end - self.start).decode(errors="replace")

    @staticmethod
    def _written() -> int:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        return os.fstat(1).st_size


def load_handler() -> Any:
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    return getattr(importlib.import_module(module_name), function_name)


def invoke(handler: Any, invocation: dict[str, Any]) -> None:
    """Run one invocation under the function's timeout and report its result or error."""
    request_id = invocation["invoke-id"]
    timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
    context = LambdaContext(request_id, invocation.get("invoked-function-arn", ""), timeout)
    outcome: dict[str, Any] = {}
    output = OutputSince(os.environ[LOG_ENV])

    def run() -> None:
        try:
            outcome["result"] = handler(json.loads(invocation["payload"] or "null"), context)
        except Exception as error:
            outcome["error"] = error_document(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    post(f"/invocations/{request_id}/logs", {"logs": output.text()})
    if worker.is_alive():
        message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
        post(f"/invocations/{request_id}/error", {"errorType": "Sandbox.Timedout", "errorMessage": message})
    elif "error" in outcome:
        post(f"/invocations/{request_id}/error", outcome["error"])
    else:
        post(f"/invocations/{request_id}/response", outcome.get("result"))


def serve(handler: Any) -> None:
    class InvokeRequest(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            invocation = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(202)
            self.end_headers()
            threading.Thread(target=invoke, args=(handler, invocation), daemon=True).start()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the function's own logs are what matters."""

    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["LONGTASK_RUNTIME_PORT"])), InvokeRequest)
    post(f"/status/{os.environ['LOCALSTACK_RUNTIME_ID']}/ready", {})
    server.serve_forever()


def warm() -> None:
    """What every environment of a function version does first, done once by its warm server: import the runtime's
    AWS SDK and read its data files for SDK_SERVICES (creating a client sends nothing)."""
    from longtask_engine.in_localstack.botocore_data import remember_data_files

    remember_data_files()
    import boto3

    session = boto3.Session(aws_access_key_id="warm-up", aws_secret_access_key="warm-up", region_name="us-east-1")
    for service in SDK_SERVICES:
        session.client(service)


def main() -> None:
    try:
        handler = load_handler()
    except Exception as error:
        post(f"/status/{os.environ['LOCALSTACK_RUNTIME_ID']}/error", error_document(error))
        raise
    serve(handler)


if __name__ == "__main__":
    main()
