"""How a run record looks in a terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from .options import print_json, stdout

STATUS_STYLES = {"SUCCEEDED": "bold green", "RUNNING": "bold blue", "LAUNCHING": "bold blue", "QUEUED": "bold yellow",
                 "HOLDING": "bold magenta"}
SUMMARY_FIELDS = (
    "runId", "status", "exitCode", "reason", "queue", "waitReason", "queuedAt", "instanceId", "instanceType",
    "subnetId", "launchedAt", "finishedAt", "instanceSeconds", "costUsd", "maxCostUsd", "logUri", "artifactsUri",
)  # fmt: skip


def status_text(status: str) -> str:
    return f"[{STATUS_STYLES.get(status, 'bold red')}]{status}[/]"


def record_table(record: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim")
    table.add_column(overflow="fold")
    for name in SUMMARY_FIELDS:
        value = record.get(name)
        if value is not None:
            table.add_row(name, status_text(value) if name == "status" else str(value))
    if record.get("attempts"):
        ended = [f"{a['attempt']}: {a.get('instanceId')}{' (spot)' if a.get('spot') else ''}, exit code "
                 f"{a.get('exitCode')}, {a.get('costUsd')} USD" for a in record["attempts"]]  # fmt: skip
        table.add_row("attempts", "\n".join(ended))
    return table


def show_record(console: Console, record: dict[str, Any], with_log_tail: bool) -> None:
    if with_log_tail and record.get("logTail"):
        console.rule("log tail", style="dim")
        console.out(record["logTail"].rstrip("\n"))
        console.rule(style="dim")
    console.print(record_table(record))


def emit_record(record: dict[str, Any], json_output: bool, with_log_tail: bool) -> None:
    """The record as JSON on stdout, or as a table (and the log tail) for a person."""
    if json_output:
        print_json(record)
    else:
        show_record(stdout, record, with_log_tail)
