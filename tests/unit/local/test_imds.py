"""A local instance's IMDSv2: a token first, then the metadata and the role's credentials."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from longtask_engine.host.imds import InstanceMetadata, MetadataServer

CREDENTIALS = {"Code": "Success", "AccessKeyId": "LSIAEXAMPLE", "SecretAccessKey": "s", "Token": "t"}


@pytest.fixture
def imds() -> Iterator[MetadataServer]:
    metadata = InstanceMetadata("i-0123456789abcdef0", "us-east-1", "us-east-1a", "InstanceRole", lambda: CREDENTIALS)
    server = MetadataServer(metadata).start()
    yield server
    server.stop()


def call(server: MetadataServer, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(server.endpoint + path, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def token(server: MetadataServer, ttl: str = "60") -> str:
    status, body = call(server, "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
    assert status == 200
    return body


def test_it_listens_on_loopback_only(imds: MetadataServer) -> None:
    assert imds.endpoint.startswith("http://127.0.0.1:")


def test_a_get_without_a_token_is_401_when_tokens_are_required(imds: MetadataServer) -> None:
    assert call(imds, "GET", "/latest/meta-data/instance-id")[0] == 401
    assert call(imds, "GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": "forged"})[0] == 401


def test_a_token_needs_a_ttl_within_six_hours(imds: MetadataServer) -> None:
    assert call(imds, "PUT", "/latest/api/token")[0] == 400
    assert call(imds, "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "21601"})[0] == 400


def test_metadata_and_role_credentials_with_a_token(imds: MetadataServer) -> None:
    headers = {"X-aws-ec2-metadata-token": token(imds)}
    assert call(imds, "GET", "/latest/meta-data/instance-id", headers) == (200, "i-0123456789abcdef0")
    assert call(imds, "GET", "/latest/meta-data/placement/region", headers) == (200, "us-east-1")
    assert call(imds, "GET", "/latest/meta-data/iam/security-credentials/", headers) == (200, "InstanceRole")
    status, body = call(imds, "GET", "/latest/meta-data/iam/security-credentials/InstanceRole", headers)
    assert (status, json.loads(body)) == (200, CREDENTIALS)


def test_a_spot_notice_appears_when_given(imds: MetadataServer) -> None:
    headers = {"X-aws-ec2-metadata-token": token(imds)}
    assert call(imds, "GET", "/latest/meta-data/spot/instance-action", headers)[0] == 404
    notice = json.dumps({"action": "terminate", "time": "2026-01-01T00:02:00Z"})
    imds.metadata.notices["spot/instance-action"] = notice
    assert call(imds, "GET", "/latest/meta-data/spot/instance-action", headers) == (200, notice)


def test_once_stopped_nothing_answers_and_its_thread_has_ended() -> None:
    metadata = InstanceMetadata("i-0123456789abcdef0", "us-east-1", "us-east-1a", None, None)
    server = MetadataServer(metadata).start()
    assert token(server)
    server.stop()
    assert not server._thread.is_alive()  # stop() returned only once the serving loop had ended
    with pytest.raises(urllib.error.URLError):
        call(server, "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
