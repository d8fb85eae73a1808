"""`longtask shell` on AWS, where the Session Manager plugin cannot run here: the tools it needs, what it says
when one is missing, the `aws ssm start-session` it runs, and what the doctor says of the plugin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from longtask.cli import shell
from longtask.cli.main import app
from longtask.client import Target
from longtask.doctor import Doctor
from longtask.errors import UserError
from longtask.sessions import SESSION_COMMAND, installed_tools, plugin_version, start_session_command


def tool(folder: Path, name: str, prints: str = "") -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\necho {prints}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty PATH folder: only the tools a test puts there are installed."""
    monkeypatch.setenv("PATH", str(tmp_path))
    return tmp_path


def test_without_the_plugin_shell_says_how_to_install_it(path: Path) -> None:
    tool(path, "aws")
    with pytest.raises(UserError, match=r"session-manager-plugin.*is not installed: install it \(https://docs.aws"
                                        r".amazon.com/systems-manager/.*session-manager-working-with-install-plugin"):
        installed_tools()


def test_without_the_aws_cli_shell_says_how_to_install_it(path: Path) -> None:
    tool(path, "session-manager-plugin", "1.2.650.0")
    with pytest.raises(UserError, match=r"the AWS CLI is not installed: install it \(https://docs.aws"):
        installed_tools()


def test_with_both_installed_shell_runs_start_session_as_the_user_would(path: Path) -> None:
    aws = tool(path, "aws")
    tool(path, "session-manager-plugin", "1.2.650.0")
    assert plugin_version() == "1.2.650.0"
    tools = installed_tools()
    argv, env = start_session_command(Target(region="eu-west-1", profile="ops"), "i-0123456789abcdef0", tools)
    assert argv == [str(aws), "ssm", "start-session", "--target", "i-0123456789abcdef0", "--document-name",
                    "AWS-StartInteractiveCommand", "--parameters", json.dumps({"command": [SESSION_COMMAND]}),
                    "--region", "eu-west-1", "--profile", "ops"]  # fmt: skip
    assert env["PATH"] == str(path)
    assert SESSION_COMMAND.startswith("sudo -i bash --rcfile ") and SESSION_COMMAND.endswith('/profile"')


class LiveRun:
    target = Target(region="eu-west-1")

    def live_instance(self, run_id: str, verb: str) -> str:
        return "i-0123456789abcdef0"


def test_the_shell_command_on_aws_runs_the_session_and_exits_with_its_code(path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    tool(path, "aws")
    tool(path, "session-manager-plugin", "1.2.650.0")
    ran: list[list[str]] = []
    monkeypatch.setattr(shell, "connect", lambda ctx: LiveRun())
    monkeypatch.setattr(shell.subprocess, "call", lambda argv, env: ran.append(argv) or 3)
    result = CliRunner().invoke(app, ["--aws", "shell", "20261207-070000-abcdef"])
    assert result.exit_code == 3
    assert ran[0][1:5] == ["ssm", "start-session", "--target", "i-0123456789abcdef0"]


def test_the_shell_command_without_the_plugin_starts_nothing(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool(path, "aws")
    ran: list[Any] = []
    monkeypatch.setattr(shell, "connect", lambda ctx: LiveRun())
    monkeypatch.setattr(shell.subprocess, "call", lambda *args, **kwargs: ran.append(args) or 0)
    result = CliRunner().invoke(app, ["--aws", "shell", "20261207-070000-abcdef"])
    assert isinstance(result.exception, UserError) and "session-manager-plugin" in str(result.exception)
    assert ran == []


@pytest.mark.parametrize(("installed", "ok"), [(True, True), (False, False)])
def test_the_doctor_says_whether_the_plugin_is_installed(path: Path, installed: bool, ok: bool) -> None:
    if installed:
        tool(path, "session-manager-plugin", "1.2.650.0")
    doctor = Doctor.__new__(Doctor)
    doctor.target = Target(region="eu-west-1")
    doctor.stack = {"Parameters": [{"ParameterKey": "AllowRunCommandsAndSessions", "ParameterValue": "true"}]}
    [check] = doctor.check_session_plugin()
    assert (check.name, check.ok) == ("Session Manager plugin", ok)
    assert ("1.2.650.0 is installed" if installed else "session-manager-working-with-install-plugin") in check.detail
    doctor.stack = {"Parameters": [{"ParameterKey": "AllowRunCommandsAndSessions", "ParameterValue": "false"}]}
    assert list(doctor.check_session_plugin()) == []  # sessions not allowed: nothing to check
