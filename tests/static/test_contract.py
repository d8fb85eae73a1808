"""The run contract (functions/common/) is the one source of the literals the ASL, the bootstrap and the template
repeat: statuses, error names, S3 key names, tag keys and the status index."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from common import events, keys, record, statuses, tags
from common.timestamps import FORMAT
from reaper.sweep import STATUS_INDEX
from signaling.app import INSTANCE_INDEX

from longtask.template_file import load_template

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [*sorted((ROOT / "statemachine").rglob("*.asl.json")), *sorted((ROOT / "statemachine").rglob("*.yaml")),
         ROOT / "template.yaml", ROOT / "userdata" / "bootstrap.sh"]  # fmt: skip
WORKFLOW = json.loads((ROOT / "statemachine" / "longtask.asl.json").read_text())
TEMPLATE = load_template(ROOT / "template.yaml")
BOOTSTRAP = (ROOT / "userdata" / "bootstrap.sh").read_text()


def test_every_longtask_error_name_written_anywhere_is_one_of_the_contract() -> None:
    written = {name for text in TEXTS for name in re.findall(r"LongTask\.\w+", text.read_text())}
    assert written and written <= {*statuses.ERROR_NAMES.values(), *statuses.INSTANCE_ERRORS}


def test_the_workflow_ends_only_with_the_contracts_errors_and_statuses() -> None:
    states = WORKFLOW["States"].values()
    assert {s["Error"] for s in states if s["Type"] == "Fail" and "Error" in s} <= set(statuses.ERROR_NAMES.values())
    choices = [choice for s in states for choice in s.get("Choices", [])]
    compared = [choice["StringEquals"] for choice in choices if choice.get("Variable") == "$.record.status"]
    assert compared and set(compared) <= set(statuses.FINAL)
    written = [s["Parameters"]["record"]["status"] for s in states if "record" in (s.get("Parameters") or {})]
    assert written and set(written) <= set(statuses.FINAL)


def test_the_reaper_hears_every_way_an_execution_ends() -> None:
    rule = TEMPLATE["Resources"]["ReaperFunction"]["Properties"]["Events"]["ExecutionEnded"]["Properties"]
    assert set(rule["Pattern"]["detail"]["status"]) == set(statuses.EXECUTION_ENDED)


def test_the_bootstrap_writes_timestamps_in_the_contracts_format() -> None:
    formats = set(re.findall(r"date -u \+(\S+)\)", BOOTSTRAP))
    assert formats == {FORMAT}


def test_the_bootstrap_uploads_under_the_contracts_key_names() -> None:
    uploaded = set(re.findall(r'^\s*(?:\w+=\S+ )?upload "[^"]+" "?([\w.-]+)', BOOTSTRAP, re.MULTILINE))
    assert uploaded == {keys.RESULT, keys.LOG, keys.DIAGNOSTICS.rstrip("/"), keys.HOLD}
    assert f'"$run_uri/{keys.RELEASE}"' in BOOTSTRAP  # what `longtask release` writes
    assert f'"diagnostics/$stamp/{keys.STALL}"' in BOOTSTRAP  # the key stall_of_key() reads
    assert f"'{keys.LIVE_LOG}%02d-%06d.log'" in BOOTSTRAP  # the chunk names live_log_attempt() reads


def test_the_template_scopes_runs_and_tags_as_the_contract_names_them() -> None:
    text = (ROOT / "template.yaml").read_text()
    assert set(re.findall(r"/(runs/)\*", text)) == {keys.RUNS_PREFIX}
    assert set(re.findall(r"Tag/(longtask:[\w-]+)", text)) == {tags.STACK}
    indexes = TEMPLATE["Resources"]["RunsTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert [index["IndexName"] for index in indexes] == [STATUS_INDEX, record.STATUS_TIME_INDEX, INSTANCE_INDEX]
    listing = next(index for index in indexes if index["IndexName"] == record.STATUS_TIME_INDEX)
    assert [key["AttributeName"] for key in listing["KeySchema"]] == ["status", record.LISTED_AT]


def test_the_launcher_and_the_records_carry_the_uris_readers_use() -> None:
    from common.record import LAUNCH_FIELDS

    uris: dict[str, Any] = keys.RunKeys("r").uris("b")
    assert set(uris) <= set(LAUNCH_FIELDS)
    assert uris["liveLogUri"].endswith(f"/{keys.LIVE_LOG}") and uris["logUri"].endswith(f"/{keys.LOG}")


def test_every_status_the_workflow_writes_or_relaunches_with_is_announced_as_the_contract_says() -> None:
    states = WORKFLOW["States"]
    announces = {name: s for name, s in states.items() if s.get("Resource") == "arn:aws:states:::events:putEvents"}
    expected = {"Source": events.SOURCE, "DetailType": events.DETAIL_TYPE, "EventBusName": events.BUS,
                "Detail.$": "$.record"}  # fmt: skip
    assert announces and all(s["Parameters"]["Entries"] == [expected] for s in announces.values())
    writes = [s for s in states.values() if s.get("Resource") == "arn:aws:states:::dynamodb:putItem"]
    assert writes and all(s["Next"] in announces and {c["Next"] for c in s["Catch"]} == {s["Next"]} for s in writes)
    assert [c["Next"] for c in states["Relaunch?"]["Choices"]] == ["Announce Relaunch"]
    notify = TEMPLATE["Resources"]["RunNotificationRule"]["Properties"]["EventPattern"]
    assert (notify["source"], notify["detail-type"]) == ([events.SOURCE], [events.DETAIL_TYPE])
    assert set(notify["detail"]["status"]) == set(statuses.FINAL)
