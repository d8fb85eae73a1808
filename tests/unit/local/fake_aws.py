"""A stand-in for the AWS CLI's entry function in the tests of the warm AWS CLI server: its argv says what to do.
Its import sets FAKE_AWS_IMPORTED, as awscli's sets AWS_DATA_PATH."""

from __future__ import annotations

import json
import os
import sys
import time

os.environ["FAKE_AWS_IMPORTED"] = "yes"


def main() -> int:
    command, *rest = sys.argv[1:]
    if command == "report":  # what the call sees; exits with the given code
        seen = {"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ), "stdin": sys.stdin.read()}
        json.dump(seen, sys.stdout)
        print("to stderr", file=sys.stderr)
        return int(rest[0])
    if command == "sleep":  # prints its pid, then sleeps
        print(os.getpid(), flush=True)
        time.sleep(float(rest[0]))
        return 0
    if command == "print-and-sleep":  # prints without a flush, then sleeps
        print("printed")
        time.sleep(float(rest[0]))
        return 0
    if command == "exit":
        sys.exit(rest[0])
    raise RuntimeError(f"fake aws: no command {command}")
