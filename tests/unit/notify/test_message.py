"""The chat message of a run event, and the handler that posts it: HTTPS only, the URL never in what it says."""

from __future__ import annotations

from typing import Any

import pytest
from notify import app
from notify.message import text_of

RECORD = {"runId": "r-1", "status": "FAILED", "reason": "the script exited with code 3", "exitCode": 3,
          "logUri": "s3://b/runs/r-1/cloud-init-output.log"}  # fmt: skip


def test_an_end_says_the_status_the_reason_the_exit_code_and_the_log() -> None:
    assert text_of("LongTask Run State Change", RECORD) == (
        "Run r-1 FAILED: the script exited with code 3; exit code 3; log: s3://b/runs/r-1/cloud-init-output.log")


def test_a_stall_says_when_and_where_its_diagnostics_are() -> None:
    stalled = {"runId": "r-1", "status": "RUNNING", "stalledAt": "2026-12-07T05:01:02Z",
               "diagnosticsUri": "s3://b/runs/r-1/diagnostics/20261207T050102Z/"}  # fmt: skip
    assert text_of("LongTask Run Stalled", stalled) == (
        "Run r-1 stalled at 2026-12-07T05:01:02Z: no progress; diagnostics: s3://b/runs/r-1/diagnostics/20261207T050102Z/")


def test_a_webhook_that_is_not_https_is_never_called(monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[Any] = []
    monkeypatch.setenv("WEBHOOK_URL", "http://127.0.0.1:9/hook")
    monkeypatch.setattr(app.urllib.request, "urlopen", lambda *a, **k: called.append(a))
    with pytest.raises(ValueError, match="NotifyWebhookUrl must be an https:// URL"):
        app.lambda_handler.__wrapped__.__wrapped__({"detail-type": "LongTask Run State Change", "detail": RECORD},
                                                   None)  # fmt: skip
    assert called == []
