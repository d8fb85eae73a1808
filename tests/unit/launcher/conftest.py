"""The launcher's fixtures: the stack's queues on moto."""

from __future__ import annotations

from typing import Any

import pytest
from common.queues import Queues

from ..conftest import QUEUES_TABLE


@pytest.fixture
def queues(aws: dict[str, Any]) -> Queues:
    return Queues(aws["dynamodb"], QUEUES_TABLE, sleep=lambda _: None)
