"""A client keeps its HTTP/1.1 connection to the engine between calls, as to AWS's endpoints
(speed/gateway_keep_alive.py)."""

from __future__ import annotations

import pytest
import urllib3.connection

from longtask.client import LongTaskClient


def test_a_clients_calls_share_one_connection(client: LongTaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[urllib3.connection.HTTPSConnection] = []
    connect = urllib3.connection.HTTPSConnection.connect

    def counted(connection: urllib3.connection.HTTPSConnection) -> None:
        opened.append(connection)
        connect(connection)

    monkeypatch.setattr(urllib3.connection.HTTPSConnection, "connect", counted)
    sts = client.target.client("sts")
    answers = [sts.get_caller_identity() for _ in range(5)]
    assert all(answer["ResponseMetadata"]["HTTPHeaders"].get("connection") != "close" for answer in answers)
    assert len(opened) == 1  # LocalStack 4.9.2 alone says `Connection: close`: five connections, five handshakes
