"""The instance metadata service (IMDSv2) of one local instance, on a loopback port of its own.

As https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html describes:
a session token from `PUT /latest/api/token` (with X-aws-ec2-metadata-token-ttl-seconds), then GETs carrying
it in X-aws-ec2-metadata-token; with HttpTokens=required a GET without a valid token is answered 401. The
paths the bootstrap and the AWS CLI read: instance-id, public-ipv4 (404 without one), placement/region,
placement/availability-zone,
iam/security-credentials/<role> (the instance profile role's temporary credentials), spot/instance-action and
events/recommendations/rebalance (404 until a notice is given), and dynamic/instance-identity/document.

Never 169.254.169.254 on this machine: it listens on 127.0.0.1, and the instance's tools are told where
(AWS_EC2_METADATA_SERVICE_ENDPOINT for the AWS CLI and SDKs, LONGTASK_IMDS_ENDPOINT for the bootstrap).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
MAX_TOKEN_TTL_SECONDS = 21600
NOTICES = ("spot/instance-action", "events/recommendations/rebalance")


@dataclass
class InstanceMetadata:
    """What one instance's IMDS serves. Notices (`spot/instance-action`, `events/recommendations/rebalance`) appear
    while the instance runs: set in `notices`, or written as files in `notices_dir` (`spot-instance-action`)."""

    instance_id: str
    region: str
    availability_zone: str
    role_name: str | None
    credentials: Callable[[], dict[str, Any]] | None  # fresh temporary credentials of the role
    http_tokens: str = "required"
    hop_limit: int = 1
    notices: dict[str, str] = field(default_factory=dict)  # "spot/instance-action" -> JSON text
    notices_dir: Path | None = None
    public_ipv4: Callable[[], str | None] | None = None  # the instance's public address now (an Elastic IP's)

    def document(self, path: str) -> str | None:
        """The text at a metadata path, or None (404)."""
        meta = {
            "instance-id": self.instance_id,
            "placement/region": self.region,
            "placement/availability-zone": self.availability_zone,
        }
        if path.startswith("latest/meta-data/"):
            item = path.removeprefix("latest/meta-data/")
            if item in meta:
                return meta[item]
            notice = self.notice(item)
            if notice is not None:
                return notice
            if item == "public-ipv4" and self.public_ipv4 is not None:
                return self.public_ipv4()
            if item in ("iam/security-credentials", "iam/security-credentials/") and self.role_name:
                return self.role_name
            if self.role_name and self.credentials and item == f"iam/security-credentials/{self.role_name}":
                return json.dumps(self.credentials())
        if path == "latest/dynamic/instance-identity/document":
            return json.dumps({"instanceId": self.instance_id, "region": self.region,
                               "availabilityZone": self.availability_zone})  # fmt: skip
        return None


    def notice(self, item: str) -> str | None:
        if item not in NOTICES:
            return None
        if item in self.notices:
            return self.notices[item]
        file = self.notices_dir / item.replace("/", "-") if self.notices_dir else None
        return file.read_text() if file is not None and file.is_file() else None


class MetadataServer:
    """One instance's IMDS on 127.0.0.1 (an ephemeral port unless given)."""

    def __init__(self, metadata: InstanceMetadata, port: int = 0) -> None:
        self.metadata = metadata
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((HOST, port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}"

    def start(self) -> MetadataServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """At once: the serving loop would see a plain shutdown() only at its next poll (half a second, part of
        every power-off); a listening socket shut down wakes it now."""
        with contextlib.suppress(OSError):
            self._server.socket.shutdown(socket.SHUT_RDWR)
        self._server.shutdown()
        self._server.server_close()

    def issue_token(self, ttl: int) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.monotonic() + ttl
        return token

    def valid(self, token: str | None) -> bool:
        with self._lock:
            return token is not None and self._tokens.get(token, 0) > time.monotonic()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                if self.path != "/latest/api/token":
                    return self._answer(404, "")
                try:
                    ttl = int(self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", ""))
                except ValueError:
                    return self._answer(400, "")
                if not 1 <= ttl <= MAX_TOKEN_TTL_SECONDS:
                    return self._answer(400, "")
                token = server.issue_token(ttl)
                return self._answer(200, token, {"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)})

            def do_GET(self) -> None:
                token = self.headers.get("X-aws-ec2-metadata-token")
                if token is not None and not server.valid(token):
                    return self._answer(401, "")
                if token is None and server.metadata.http_tokens == "required":
                    return self._answer(401, "")
                text = server.metadata.document(self.path.lstrip("/"))
                return self._answer(404, "") if text is None else self._answer(200, text)

            def _answer(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the caller gave up waiting
                    self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        return Handler
