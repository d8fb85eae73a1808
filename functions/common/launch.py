"""The launch state: what the launcher decided for one attempt of a run, carried by the workflow (as `$.launch`,
camelCase, the names the ASL reads) to the watcher and to the outcome."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any


class DeadlineSource(StrEnum):
    """What set the deadline the timeout guard keeps: the run's timeoutSeconds, or when its cost would pass
    maxCostUsd (the run then ends BUDGET_EXCEEDED)."""

    TIMEOUT = "TIMEOUT"
    BUDGET = "BUDGET"


# the values launchers before this model wrote: a run in flight across an update is still read right
_EARLIER = {"timeoutSeconds": DeadlineSource.TIMEOUT, "maxCostUsd": DeadlineSource.BUDGET}


@dataclass(frozen=True)
class Launch:
    """One attempt's launch. Field names are Python's; `as_dict` and `from_dict` speak the workflow's camelCase."""

    run_id: str
    execution_arn: str
    instance_id: str
    instance_type: str
    subnet_id: str
    spot: bool
    launched_at: str
    deadline: str
    log_uri: str
    live_log_uri: str
    result_uri: str
    artifacts_uri: str
    attempt: int = 0
    interruptions: int = 0
    retries: int = 0
    retry_on_exit_codes: list[int] = field(default_factory=list)
    retry_backoff_seconds: int = 0
    watch_name: str = ""
    windows: list[dict[str, Any]] = field(default_factory=list)
    window_count: int = 0
    launch_attempts: list[str] = field(default_factory=list)
    network_note: str = ""
    public_ip: bool = False
    deadline_source: DeadlineSource = DeadlineSource.TIMEOUT
    max_cost_usd: float | None = None
    spent_usd: float = 0.0
    rate: dict[str, float] | None = None  # common.pricing.Rate.as_dict(), priced at launch for maxCostUsd
    queue: str = "default"  # the queue whose slot the attempt holds (common/queues.py)
    priority: int = 500
    queue_seconds: int = 0  # time spent queued so far, over every attempt (maxQueueSeconds bounds it)
    elastic_ip: str = ""  # the Elastic IP the attempt's instance egresses from (launcher/addresses.py)
    started_at: str | None = None  # when the run's execution started: its place among runs, newest first

    def as_dict(self) -> dict[str, Any]:
        """The workflow's `$.launch`; what is unset (no budget) is left out."""
        return {_camel(name): value for name, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Launch:
        known = {_camel(f.name): f.name for f in fields(cls)}
        given = {known[name]: value for name, value in values.items() if name in known}
        source = given.get("deadline_source", DeadlineSource.TIMEOUT)
        given["deadline_source"] = _EARLIER.get(source) or DeadlineSource(source)
        return cls(**given)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
