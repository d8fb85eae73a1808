"""Patches of localstack-core 4.9.2 (and the moto and botocore it carries) for speed only: each makes LocalStack
answer sooner or with less CPU, and none changes what it accepts, refuses or answers.

- `stepfunctions_reuse`: parse each JSONPath and definition once, and reuse each role's clients.
- `cloudformation_polling`: look at a resource in progress every 0.5 s, not 5 s.
- `ec2_tags`: read a resource's tags by its id, not by matching every tag of the region.
- `ec2_instances`: copy only the reservations a DescribeInstances narrows.
- `moto_reuse`: keep moto's dispatch methods and tag-filter patterns instead of working them out per request.
- `botocore_reuse`: read each of botocore's data files once per process.
- `lambda_code_location`: presign a function's code location with one S3 client.
- `gateway_keep_alive`: keep HTTP connections open between requests, as AWS's endpoints do.

LONGTASK_ENGINE_SPEED=off (given to LocalStack by localstack.py) turns them all off: the engine is then slower and
answers the same (tests/integration/test_speed_off.py runs an engine of its own so).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

SWITCH_ENV = "LONGTASK_ENGINE_SPEED"


def enabled() -> bool:
    return os.environ.get(SWITCH_ENV, "on") != "off"


def speed_only(hook: Callable[[], None]) -> Callable[[], None]:
    """A hook that patches for speed: it does nothing while the switch is off."""

    @functools.wraps(hook)
    def when_enabled() -> None:
        if enabled():
            hook()

    return when_enabled
