"""Chat and webhook notifications: a stack with NotifyWebhookUrl posts a Slack-shaped message to a loopback HTTPS
receiver (serving the engine's certificate) for a FAILED run, and nothing for a SUCCEEDED one; an http:// URL is
refused at deploy, naming the parameter."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from longtask_engine.host import engine
from longtask_engine.paths import EnginePaths

from longtask.client import LongTaskClient
from longtask.waiting import poll_condition

from .engine_session import PARAMETERS, WEBHOOK_STACK
from .support import assert_final

pytestmark = pytest.mark.slow(seconds=120)


class Receiver(ThreadingHTTPServer):
    """An HTTPS endpoint on 127.0.0.1 that keeps every JSON body POSTed to it."""

    def __init__(self, paths: EnginePaths) -> None:
        self.messages: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), Hook)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(paths.server_certificate)
        self.socket = context.wrap_socket(self.socket, server_side=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}/hooks/T000/B000/secret"


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.messages.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver(EnginePaths.default())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def webhook_client(client: LongTaskClient, receiver: Receiver) -> LongTaskClient:
    return engine.connect(WEBHOOK_STACK, {**PARAMETERS, "NotifyWebhookUrl": receiver.url}, EnginePaths.default())


def test_a_failed_run_is_posted_as_a_slack_message_and_a_success_is_not(webhook_client: LongTaskClient,
                                                                        receiver: Receiver) -> None:  # fmt: skip
    succeeded = webhook_client.start({"script": "echo fine\n"})
    failed = webhook_client.start({"script": "echo broken\nexit 3\n"})
    assert_final(webhook_client, succeeded, "SUCCEEDED")
    record = assert_final(webhook_client, failed, "FAILED")

    def texts() -> list[str]:
        return [m["text"] for m in receiver.messages]

    assert poll_condition(lambda: any(failed in text for text in texts()), 30), texts()
    (message,) = [m for m in receiver.messages if failed in m["text"]]
    assert set(message) == {"text"}
    assert message["text"].startswith(f"Run {failed} FAILED: {record['reason']}; exit code 3; log: s3://")
    assert not any(succeeded in text for text in texts())


def test_a_webhook_url_that_is_not_https_is_refused_at_deploy(longtask: Any) -> None:
    refused = longtask("deploy", "--stack", "longtask-it-http-hook", "--parameter",
                       "NotifyWebhookUrl=http://127.0.0.1:9/hook", "--yes")  # fmt: skip
    assert refused.exit_code == 2, refused.stderr
    assert "NotifyWebhookUrl" in refused.stderr and "must be empty or an https:// URL" in refused.stderr
    assert "http://127.0.0.1:9/hook" not in refused.stderr  # NoEcho: the URL is a secret
