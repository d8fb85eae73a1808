"""The console in a real browser: Playwright drives Debian's headless chromium (/usr/bin/chromium) against the console
served on 127.0.0.1 for the test stack. A run started from the form appears, runs, logs and succeeds, with its cost;
the graph marks the current state; a run is aborted from its page; a bad input document is marked where it breaks
and starts nothing. Screenshots of each page go to .longtask/console-*.png."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from longtask.client import LongTaskClient
from longtask.console.app import create_app
from longtask.waiting import poll_condition

from .engine_session import ROOT

pytestmark = pytest.mark.slow(seconds=60)
CHROMIUM = "/usr/bin/chromium"
# as the machine's probe starts it: no sandbox as root, and no background connections (the network is closed)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
SHOTS = Path(ROOT) / ".longtask"
SECONDS = 60_000  # Playwright's timeouts are in milliseconds


class Counting:
    """The client, counting the runs the console starts."""

    def __init__(self, client: LongTaskClient) -> None:
        self.client, self.starts = client, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def start(self, run_input: dict[str, Any]) -> str:
        self.starts += 1
        return self.client.start(run_input)


@pytest.fixture(scope="module")
def console(client: LongTaskClient) -> Iterator[tuple[str, Counting]]:
    """The console on a free loopback port, in a thread."""
    counting = Counting(client)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(counting), host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert poll_condition(lambda: server.started, 20)
    yield f"http://127.0.0.1:{port}", counting
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert shutil.which(CHROMIUM), f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(SECONDS)
    yield opened
    context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=True)


def test_a_run_started_from_the_form_appears_runs_and_succeeds(console: tuple[str, Counting], page: Page) -> None:
    url, _ = console
    page.goto(f"{url}/start")
    page.fill("#script", "echo hello from the console\nsleep 3\necho done\n")
    page.fill("input[name=queue]", "console")
    shot(page, "start")
    page.click("#start")
    expect(page).to_have_url(re.compile(r"/runs/[\w-]+$"))
    run_id = page.url.rsplit("/", 1)[-1]
    expect(page.locator("#log")).to_contain_text("hello from the console", timeout=SECONDS)
    expect(page.locator("#status")).to_have_text("SUCCEEDED", timeout=SECONDS)
    shot(page, "run")
    page.goto(f"{url}/?queue=console")
    row = page.locator(f"tr[data-run='{run_id}']")
    expect(row.locator(".status")).to_have_text("SUCCEEDED")
    expect(row.locator(".cost")).to_have_text(re.compile(r"^\$0\.\d{6}$"))
    shot(page, "runs")
    for name in ("queues", "cost"):
        page.goto(f"{url}/{name}")
        expect(page.locator("h1")).to_have_text(name.title())
        shot(page, name)


def test_the_graph_marks_the_current_state_and_a_run_is_aborted_from_its_page(console: tuple[str, Counting],
                                                                             page: Page) -> None:  # fmt: skip
    url, counting = console
    run_id = counting.client.start({"script": "sleep 300\n"})
    assert poll_condition(lambda: (counting.client.item(run_id) or {}).get("status") == "RUNNING", 60)
    page.goto(f"{url}/runs/{run_id}")
    current = page.locator(".graph .state.current")
    expect(current).to_have_count(1)
    expect(current).to_have_attribute("aria-current", "step")
    expect(current).to_have_class(re.compile(r"\bvisited\b"))
    shot(page, "graph")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#abort")
    expect(page.locator("#status")).to_have_text("ABORTED", timeout=SECONDS)
    assert counting.client.record(run_id)["status"] == "ABORTED"


def test_a_bad_input_document_is_marked_where_it_breaks_and_starts_nothing(console: tuple[str, Counting],
                                                                           page: Page) -> None:  # fmt: skip
    url, counting = console
    before = counting.starts
    page.goto(f"{url}/start")
    page.fill("#input", '{"script": "echo hi",\n "retries": oops}')
    page.click("#start")
    error = page.locator("#input-error")
    expect(error).to_contain_text("not JSON: Expecting value at line 2, column 13")
    expect(page.locator("#input ~ #input-error")).to_have_count(1)  # beside its field
    shot(page, "bad-input")
    page.fill("#input", '{"script": "echo hi", "retries": 9}')
    page.click("#start")
    expect(page.locator("#input-error")).to_contain_text("retries: Input should be less than or equal to 5")
    assert counting.starts == before


def test_an_unknown_run_is_a_page_that_says_so(console: tuple[str, Counting], page: Page) -> None:
    url, _ = console
    answer = page.goto(f"{url}/runs/no-such-run")
    assert answer is not None and answer.status == 404
    expect(page.locator("#message")).to_contain_text("no run no-such-run in stack")


def test_the_console_command_serves_the_stack_on_loopback(client: LongTaskClient) -> None:
    """`longtask console --no-browser` as a user starts it: on 127.0.0.1 only, until it is stopped. (The CLI deploys
    its stack when anything changed; the test stack's parameters include the CLI's, so nothing is.)"""
    import subprocess
    import sys
    import urllib.request

    from .engine_session import STACK

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).with_name("longtask")), "console", "--no-browser", "--port", str(port),
               "--stack", STACK]  # fmt: skip
    log = SHOTS / f"console-command-{port}.log"
    SHOTS.mkdir(exist_ok=True)
    with log.open("w") as said:
        server = subprocess.Popen(command, cwd=ROOT, stdout=said, stderr=subprocess.STDOUT)
    started = time.monotonic()
    try:
        def answers() -> bool:
            try:  # a page reads every status's newest runs: under the session's load that can take seconds
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
                    return page.status == 200 and f"stack {STACK}" in page.read().decode()
            except OSError:
                return False

        assert poll_condition(answers, 60), log.read_text()
        print(f"answered {time.monotonic() - started:.1f} s after the start")
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        assert [line.split()[3] for line in listening.splitlines()] == [f"127.0.0.1:{port}"]  # its local address
    finally:
        server.terminate()
        server.wait(60)
