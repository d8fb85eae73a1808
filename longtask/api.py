"""The Python API: start runs, follow them, read their logs and list them, on the local engine or on AWS.

    from longtask import Client
    run = Client().run("job.sh", spot=True, retries=2)
    run.wait()

Options are the execution input's fields in snake_case (docs/reference.md: `timeout_seconds`, `instance_types`,
`env`, `secrets`, `queue`...); durations also read "30m". The checks that need no AWS call are the launcher's own
(common/run_input.py), made before anything starts. The CLI stands on this module (docs/python-api.md).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .client import Invocation, LongTaskClient
from .common.errors import InvalidInput
from .common.run_input import RunInput, parse_run_input
from .durations import parse_duration
from .errors import InvalidRunInput, UserError
from .targets import connect

Record = dict[str, Any]  # a run record (docs/reference.md, "Run record")
OPTION_NAMES = {name: field.alias or name for name, field in RunInput.model_fields.items()
                if name not in ("script", "script_s3_uri", "started_by_execution_id")}  # fmt: skip


class Client:
    """The runs of one deployed stack: the local engine's by default, or one on AWS (`aws=True`, with your AWS
    configuration, `region` and `profile`)."""

    def __init__(self, *, aws: bool = False, stack: str = "longtask", region: str | None = None,
                 profile: str | None = None) -> None:  # fmt: skip
        self._client = connect(aws, stack, region, profile)

    def run(self, script: str | os.PathLike[str] | None = None, *, text: str | None = None,
            input: dict[str, Any] | None = None, **options: Any) -> Run:  # fmt: skip
        """Start a run of `script` (a file or an s3:// URI) or of `text` (bash), with `input` (a whole execution
        input) and the options over it. InvalidRunInput (nothing started) names what is wrong."""
        run_input = checked(execution_input(script, text, input or {}, options))
        return Run(self._client, self._client.start(run_input))

    def get(self, run_id: str) -> Run:
        """The run with this id (its execution name); RunNotFound when there is none."""
        self._client.execution(run_id)
        return Run(self._client, run_id)

    def runs(self, status: str | None = None, queue: str | None = None, limit: int = 50) -> list[Record]:
        """Run records, newest first: of one status or queue, if given."""
        return self._client.list_runs(limit, status=status, queue=queue)


class Run:
    """One run. Each property reads its current state."""

    def __init__(self, client: LongTaskClient, run_id: str) -> None:
        self._client, self.id = client, run_id

    def __repr__(self) -> str:
        return f"Run({self.id!r})"

    @property
    def record(self) -> Record:
        return self._client.record(self.id)

    @property
    def status(self) -> str:
        return str(self.record["status"])

    @property
    def ended(self) -> bool:
        return self._client.is_final(self.id)

    def wait(self, timeout: float | None = None) -> Record:
        """Block until the run has ended (TimeoutError after `timeout` seconds); its final record."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.ended:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {self.id} is still {self.status} after {timeout} s")
            time.sleep(self._client.target.end_poll_seconds)
        return self.record

    def logs(self, follow: bool = False) -> Iterator[str]:
        """The console log: what there is now, or (follow) each new piece as it arrives until the run ends."""
        if not follow:
            yield self._client.log_since(self.id, 0).decode(errors="replace")
            return
        for chunk in self._client.follow_log(self.id):
            if chunk:
                yield chunk.decode(errors="replace")

    def abort(self) -> Record:
        """Stop the run; the reaper terminates its instance. Its final record (ABORTED)."""
        return self._client.abort(self.id)

    def release(self) -> Record:
        """End a HOLDING run's hold now."""
        return self._client.release(self.id)

    def exec(self, command: str) -> Invocation:
        """Run a shell command on the run's instance (SSM Run Command) while it is RUNNING or HOLDING."""
        return self._client.exec(self.id, command)


def execution_input(script: str | os.PathLike[str] | None, text: str | None, document: dict[str, Any],
                    options: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The execution input: `document`, then the script (a file, an s3:// URI, or `text`), then each option given
    (None or empty: not given), by its snake_case name."""
    run_input = dict(document)
    if script is not None or text is not None:
        run_input.pop("script", None)
        run_input.pop("scriptS3Uri", None)
        run_input.update({"script": text} if text is not None else script_source(os.fspath(script)))  # type: ignore[arg-type]
    elif "script" not in run_input and "scriptS3Uri" not in run_input:
        raise UserError("give a script (a file, '-' for stdin, or an s3:// URI), or an input with one")
    for name, value in options.items():
        if name not in OPTION_NAMES:
            raise TypeError(f"unknown run option {name!r}; the options: {', '.join(sorted(OPTION_NAMES))}")
        if value not in (None, {}, []):
            run_input[OPTION_NAMES[name]] = _duration(name, value)
    return run_input


def checked(run_input: dict[str, Any]) -> dict[str, Any]:
    """The input, if the launcher's checks that need no AWS call pass; else InvalidRunInput naming what is wrong."""
    try:
        parse_run_input(run_input)
    except InvalidInput as error:
        raise InvalidRunInput(str(error)) from None
    return run_input


def script_source(script: str) -> dict[str, str]:
    """A script named by path (its text goes in the input) or by s3:// URI."""
    if script.startswith("s3://"):
        return {"scriptS3Uri": script}
    path = Path(script)
    if not path.is_file():
        raise UserError(f"script {script}: no such file (give a path or an s3:// URI)")
    return {"script": path.read_text()}


def _duration(name: str, value: Any) -> Any:
    """A *_seconds option given as "30m" or "2h" is that many seconds."""
    if name.endswith("_seconds") and isinstance(value, str) and re.fullmatch(r"\d+[smhd]", value):
        return parse_duration(value)
    return value
