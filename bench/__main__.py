"""`make bench`: every benchmark in one run on the local engine; prints the tables, writes bench/results/."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from longtask_engine.host import engine
from longtask_engine.paths import EnginePaths
from rich.console import Console
from rich.table import Table

from longtask.client import LongTaskClient

from . import (
    cli_time,
    concurrency,
    cost_model,
    detection,
    latency,
    launcher_time,
    queues,
    redeploy,
    scale_calls,
    scale_model,
)
from . import (
    console as console_bench,
)

STACK = "longtask-bench"
RESULTS = Path(__file__).with_name("results")


def connect(paths: EnginePaths) -> LongTaskClient:
    return engine.connect(STACK, engine.LOCAL_STACK_PARAMETERS, paths)


def cold_start(paths: EnginePaths) -> dict[str, float]:
    """From nothing running: start LocalStack and the agent, deploy, run a trivial script."""
    engine.down(paths)
    (paths.state / f"deployed-{STACK}").unlink(missing_ok=True)
    started = time.perf_counter()
    engine.up(paths)
    up = time.perf_counter()
    client = connect(paths)
    deployed = time.perf_counter()
    _, first_run = latency.run_once(client)
    return {"engine up s": up - started, "deploy s": deployed - up, "first run s": first_run,
            "total s": time.perf_counter() - started}  # fmt: skip


def last_test_session(paths: EnginePaths) -> str:
    """`make test` as the last test session on this checkout recorded it (tests/conftest.py)."""
    try:
        session = json.loads(paths.last_test_session.read_text())
    except (OSError, ValueError):
        return "not recorded yet: run `make test`"
    return (f"{session['seconds'] / 60:.1f} min: {session['passed']} of {session['tests']} passed on "
            f"{session['workers']} workers (`{session['command']}`, {session['finished']})")  # fmt: skip


def goals(help_s: float, run_s: float, record_s: float, cold_s: float, redeploy_s: float, crowd: dict[str, Any],
          tests: str) -> list[dict[str, Any]]:  # fmt: skip
    """The local speed goals beside what was measured in this run and when they were set (2026-11-28)."""
    fifty = f"{crowd['wall seconds']:.1f} s, {crowd['CPU s per run']:.1f} CPU s a run ({crowd['recorded']} recorded)"
    return [
        {"measure": "`longtask --help`", "goal": "≤ 0.3 s", "now": f"{help_s:.2f} s", "then": "1.1 s"},
        {"measure": "`longtask run` of a trivial script", "goal": "≤ 2.5 s", "now": f"{run_s:.2f} s",
         "then": "6.5 to 6.8 s"},
        {"measure": "StartExecution → record", "goal": "≤ 1.5 s", "now": f"{record_s:.2f} s", "then": "3.8 s"},
        {"measure": "cold start → first run done", "goal": "≤ 15 s", "now": f"{cold_s:.1f} s", "then": "35 s"},
        {"measure": "redeploy after a one-line change to a function", "goal": "≤ 3 s", "now": f"{redeploy_s:.1f} s",
         "then": "not measured (every deploy updated every function)"},
        {"measure": f"{crowd['runs']} concurrent runs", "goal": "≤ 60 s, ≤ 2 CPU s a run", "now": fifty,
         "then": "198 s, about 8 CPU s a run"},
        {"measure": "`make test` on 2 cores", "goal": "≤ 5 min", "now": tests, "then": "about 10 min"},
    ]  # fmt: skip


def table(title: str, rows: list[dict[str, Any]]) -> Table:
    result = Table(title=title, title_justify="left")
    for column in rows[0]:
        result.add_column(column)
    for row in rows:
        result.add_row(*(f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row.values()))
    return result


def scale(console: Console, client: LongTaskClient, paths: EnginePaths) -> None:
    """Section 9: the calls a run makes, measured here, against AWS's limits (bench/scale_model.py)."""
    profile = scale_calls.profile(client, paths, STACK)
    console.print(table("9. Scale: calls measured by shape (runs, polls, windows, queue waits, launches)",
                        [{"shape": name, "requests": round(sum(c.requests.values())), "transitions": c.transitions,
                          "polls": c.polls, "windows": c.windows, "waits": c.waits, "launches": c.launches}
                         for name, c in profile.measured.items()]))  # fmt: skip
    console.print(table("9. Scale: a run's calls by principal and action", scale_model.calls_table(profile)))
    console.print(table("9. Scale: AWS's limits against 1-hour runs (AWS defaults: polls 30 s doubling to 1 h)",
                        scale_model.limit_table(profile)))  # fmt: skip
    console.print(table("9. Scale: N runs started at once or at 10 a second, before → now",
                        scale_model.scale_table(profile)))  # fmt: skip
    console.print(table("9. Scale: control-plane charges per run beside its instance (us-east-1)",
                        scale_model.cost_table(profile)))  # fmt: skip


def main() -> None:
    """Each table is printed as soon as it is measured, and all are written to bench/results/latest.txt."""
    paths = EnginePaths.default()
    console = Console(record=True, width=160)
    launches = [{"script": name, **launcher_time.time_to_run_instances(script)}
                for name, script in (("small", launcher_time.SMALL), ("16 KB+", launcher_time.LARGE))]  # fmt: skip
    console.print(table("4. Launcher: invocation → RunInstances (in-process, moto)", launches))
    console.print(table("10. Console: the runs page over 1,000 run records, server time (in-process, moto)",
                        [console_bench.runs_page()]))  # fmt: skip
    console.print(table("10. Console: Runs table reads while 5 pages poll every 0.5 s", [console_bench.polling()]))
    help_time = cli_time.help_time()
    console.print(table("6. CLI: `longtask --help`, a fresh process each time (7 runs)", [help_time]))
    was_up = engine.status(paths).up
    try:
        cold = cold_start(paths)
        console.print(table("1. Local engine, cold (nothing running → first run done)", [cold]))
        client = connect(paths)
        run_time = cli_time.run_time(STACK)
        console.print(table("6. CLI: `longtask run hello.sh` on the warm engine (3 runs)", [run_time]))
        warm = latency.warm(client, paths.logs / "agent.log")
        console.print(table("1. Warm runs: StartExecution → final record, seconds",
                            [{k: v for k, v in warm.items() if k != "split"}]))  # fmt: skip
        console.print(table("1. Where a warm run's time goes (median seconds)", [warm["split"]]))
        redeployed = redeploy.redeploy_time(paths, STACK)
        console.print(table("7. Redeploy after a one-line change to one function (and back)", [redeployed]))
        state = engine.status(paths)
        pids = {"engine": state.localstack_pid, "agent": state.agent_pid}
        crowd = [concurrency.concurrent_runs(client, n, pids) for n in (1, 10, 50)]
        console.print(table("2. Concurrent runs of a 2-second script", crowd))
        console.print(table("0. Speed goals (issue 15): now, and as measured when they were set", goals(
            help_time["median s"], run_time["median s"], warm["median"], cold["total s"],
            redeployed["one function changed s"], crowd[-1], last_test_session(paths))))
        outputs = client.target.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
        watcher_arn = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "WatcherStateMachineArn")
        design, naive = cost_model.measure_design(client, watcher_arn), cost_model.measure_naive(client)
        console.print(table("3. Measured per poll / window / run (compressed clock)",
                            [{"design": "this (watcher windows)", **design}]))  # fmt: skip
        console.print(table("3. Measured per poll, naive fixed loop", [naive]))
        console.print(table("3. Projected on AWS (30 s doubling to 3,600 s vs naive fixed 30 s)",
                            cost_model.project(design, naive)))  # fmt: skip
        console.print(table("8. Queues: 200 runs of 5 s into a queue of 20", [queues.fan_out(client)]))
        console.print(table("8. Queues: a freed slot → the next run's launch (queue of 1)",
                            [queues.slot_handover(client)]))  # fmt: skip
        console.print(table("8. Queues: state transitions while waiting (per cycle measured; per hour scaled)",
                            [queues.transitions_while_waiting(client)]))  # fmt: skip
        console.print(table("8. Queues: a launch storm paced by EC2's RunInstances bucket",
                            [queues.launch_storm(client)]))  # fmt: skip
        scale(console, client, paths)
        agent_log = paths.logs / "agent.log"
        seen = [*detection.detection(client, agent_log), detection.naive_detection(client, agent_log)]
        console.print(table("5. Detection: a run's end → the workflow sees it (pollSeconds 300; naive 30 s)", seen))
    finally:
        if not was_up:
            engine.down(paths)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "latest.txt").write_text(console.export_text())
        console.print(f"written to {RESULTS / 'latest.txt'}")


if __name__ == "__main__":
    main()
