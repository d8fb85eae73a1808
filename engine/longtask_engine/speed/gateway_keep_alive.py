"""Keep HTTP connections to LocalStack open between requests, as AWS's endpoints do.

An HTTP/1.1 connection is persistent unless a side says `Connection: close` (RFC 9112, section 9.3), and the AWS
SDKs and CLI reuse theirs (botocore's connection pool). LocalStack 4.9.2 ends every response it serves through
hypercorn with `Connection: close`, a 2022 workaround for h11 slowing down clients that reused connections
(https://github.com/localstack/localstack/issues/6557), so every AWS call here opened a new TCP connection and
made a new TLS handshake. Measured on this engine (2 cores): a GetItem cost LocalStack 9.8 ms of CPU and its
client 5.6 ms with a new connection each, 6.3 ms and 3.0 ms on a kept one, and took less time, not more.

A connection idle for longer than hypercorn's keep-alive timeout (5 s) is closed by LocalStack; botocore then
opens a new one, as it does when an AWS endpoint closes an idle connection. Speed only: nothing is accepted or
refused differently. Runs when LocalStack starts (before it builds its gateway), through the entry point
`localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks

from . import speed_only


@hooks.on_infra_start()
@speed_only
def keep_connections_alive() -> None:
    from localstack.aws import handlers

    handlers.set_close_connection_header = leave_connection_open


def leave_connection_open(_chain: Any, _context: Any, _response: Any) -> None:
    """The gateway's finalizer in place of LocalStack's `set_close_connection_header`: adds no header."""
