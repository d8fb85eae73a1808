"""Notify Lambda handler: a run's end or stall, as a Slack-compatible `{"text": ...}` message POSTed to the
stack's NotifyWebhookUrl (a Slack incoming webhook or any HTTPS endpoint).

The URL carries its token: it is read from the environment, never logged and never returned. Only https:// is
called, as EventBridge's API destinations allow only HTTPS (the stack's parameter refuses anything else too).
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .message import text_of

logger = Logger()
metrics = Metrics(namespace="LongTask")
TIMEOUT_SECONDS = 10


@logger.inject_lambda_context(log_event=False)  # the event is the record: fine, but the URL must never be logged
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event: a "LongTask Run State Change" or "LongTask Run Stalled" event (the rule chooses which)."""
    url = os.environ["WEBHOOK_URL"]
    if not url.startswith("https://"):
        raise ValueError("NotifyWebhookUrl must be an https:// URL")
    text = text_of(event.get("detail-type", ""), event.get("detail") or {})
    request = urllib.request.Request(url, data=json.dumps({"text": text}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    # an error answer raises (HTTPError): Lambda's asynchronous invocation tries twice more
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):
        pass
    logger.info("notified", extra={"runId": (event.get("detail") or {}).get("runId")})
    metrics.add_metric(name="WebhooksSent", unit=MetricUnit.Count, value=1)
    return {"sent": True}
