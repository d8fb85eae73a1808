"""The speed-only patches (longtask_engine/speed/) all turn off with LONGTASK_ENGINE_SPEED=off."""

from __future__ import annotations

from pathlib import Path

import pytest
from longtask_engine.in_localstack import speed

SPEED = Path(speed.__file__).parent


def test_a_speed_only_hook_does_nothing_while_the_switch_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    hook = speed.speed_only(lambda: ran.append("patched"))
    monkeypatch.setenv(speed.SWITCH_ENV, "off")
    hook()
    assert ran == []
    monkeypatch.setenv(speed.SWITCH_ENV, "on")
    hook()
    assert ran == ["patched"]


def test_every_patch_in_speed_is_behind_the_switch_and_named_with_its_why() -> None:
    patches = sorted(p.stem for p in SPEED.glob("*.py") if p.stem != "__init__")
    assert len(patches) == 8, patches
    for name in patches:
        assert "@hooks.on_infra_start()\n@speed_only\n" in (SPEED / f"{name}.py").read_text(), name
        assert f"- `{name}`: " in speed.__doc__, name
