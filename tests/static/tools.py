"""The validators that live in tool environments of their own (`uv tool run`: each pins much of boto3's world)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def venv_tool(name: str) -> str:
    """A tool installed in this project's environment."""
    return str(Path(sys.executable).with_name(name))


def tool_run(spec: str, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run command from the tool environment of spec (a pinned requirement), its bytecode compiled and kept: this
    machine sets PYTHONDONTWRITEBYTECODE, under which every start compiled every module again (half of the 13 s
    each `sam validate` took)."""
    environment = {name: value for name, value in (env or os.environ).items() if name != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run([venv_tool("uv"), "tool", "run", "--quiet", "--compile-bytecode", "--from", spec, *command],
                          capture_output=True, text=True, env=environment, timeout=600)  # fmt: skip
