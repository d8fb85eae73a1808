"""Which stack a client talks to: one deployed on AWS (as your AWS configuration says), or the local engine's
(started, and the stack deployed from this checkout's template.yaml when anything changed). The CLI, the Python
API and the console all connect here."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from botocore.exceptions import NoCredentialsError

from .client import LongTaskClient, Target
from .errors import UserError
from .local_engine import engine_module, paths

NO_CREDENTIALS = "no AWS credentials found: run `aws configure` or `aws sso login`, or pass --profile"


def connect(aws: bool = False, stack: str = "longtask", region: str | None = None, profile: str | None = None,
            progress: Callable[[str], AbstractContextManager[object]] | None = None) -> LongTaskClient:  # fmt: skip
    """A client for the stack. `progress(text)`: a context shown while the local engine starts or deploys."""
    if aws:
        try:
            return LongTaskClient(Target(stack_name=stack, region=region, profile=profile))
        except NoCredentialsError:
            raise UserError(NO_CREDENTIALS) from None
    engine, engine_paths = engine_module(), paths()
    show = progress or (lambda text: nullcontext())
    with show("starting the local engine"):
        engine.up(engine_paths)
    with show(f"deploying stack {stack} locally (when anything changed)"):
        return engine.connect(stack, engine.LOCAL_STACK_PARAMETERS, engine_paths)
