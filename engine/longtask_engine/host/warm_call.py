"""One call of a warm program (warm_server.py: `aws` on a local instance, a local Lambda environment), or the
command itself when that server cannot be reached or cannot run the call warm. Run as
`python -I -S warm_call.py SOCKET COMMAND ARGS...`: the standard library only.

The call gets this process's arguments, environment, working directory and standard streams. The signals a
command usually gets (`timeout`'s SIGTERM, SIGINT, SIGHUP...) are passed on to it; this process ends as the call
did, with its exit status or killed by the same signal; and if this process is killed (SIGKILL), so is the call.
"""

import contextlib
import json
import os
import signal
import socket
import sys

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
STREAMS = [0, 1, 2]


def call(socket_path: str, argv: list[str]) -> int | None:
    """The call's exit code (negative: the signal that ended it), or None when the server cannot be reached or
    cannot run this call warm (it sets what the program reads when it starts)."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        connection.connect(socket_path)
        request = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
        socket.send_fds(connection, [request], STREAMS)
    except OSError:
        connection.close()
        return None

    def forward(number: int, _frame: object) -> None:
        with contextlib.suppress(OSError):  # the call has just ended
            connection.send(str(number).encode())

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)
    answer = connection.recv(16)
    if not answer:
        print(f"{os.path.basename(argv[0])}: the warm server ended without an exit status", file=sys.stderr)
        return 255
    return None if answer == b"cold" else int(answer)  # warm_server.COLD (not imported: stdlib only here)


def main() -> None:
    socket_path, command, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    code = call(socket_path, [command, *argv])
    if code is None:
        os.execv(command, [command, *argv])
    if code < 0:  # ended by a signal: so does this process, as its shell sees it
        if -code in FORWARDED_SIGNALS:
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        code = 128 - code
    sys.exit(code)


if __name__ == "__main__":
    main()
