"""Redeploy after a one-line change to one function: a copy of the application whose signal function gains a line,
deployed over the bench stack by the same CloudFormation update as any deploy; then the checkout's code again."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from longtask_engine.host import engine
from longtask_engine.host.deploy import deploy, forget
from longtask_engine.paths import EnginePaths

from longtask.sources import app_dir

APPLICATION = ("template.yaml", "functions", "statemachine", "userdata")
CHANGED = Path("functions/signaling/signaling/app.py")


def redeploy_time(paths: EnginePaths, stack: str) -> dict[str, float]:
    """Seconds to deploy a one-line change of one function, and to deploy the checkout's code back."""
    target = engine.target(paths, stack)
    cloudformation, s3 = target.client("cloudformation"), target.client("s3")

    def timed(template: Path) -> float:
        forget(stack, paths)  # the engine's own "nothing changed" marker knows only the checkout
        started = time.perf_counter()
        deploy(cloudformation, s3, stack, engine.LOCAL_STACK_PARAMETERS, paths, template)
        return time.perf_counter() - started

    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder)
        for part in APPLICATION:
            source = app_dir() / part
            if source.is_dir():
                shutil.copytree(source, copy / part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(source, copy / part)
        timed(copy / "template.yaml")  # the copy as it is: the same code, nothing to update
        with (copy / CHANGED).open("a") as changed:
            changed.write(f"# one line changed by the bench at {time.time()}\n")
        changed_s = timed(copy / "template.yaml")
    back_s = timed(app_dir() / "template.yaml")
    return {"one function changed s": changed_s, "and back s": back_s}
