"""botocore's data files read once per process (longtask/local/botocore_data.py): what a loader gets is what it
would have read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import botocore
import pytest
from botocore import loaders

from longtask.local.botocore_data import remember_data_files

DATA = Path(botocore.__file__).with_name("data")


@pytest.fixture
def remembered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(loaders.JSONFileLoader, "load_file", loaders.JSONFileLoader.load_file)
    monkeypatch.setattr(loaders.Loader, "list_available_services", loaders.Loader.list_available_services)
    remember_data_files()
    yield


def test_a_file_is_read_once_and_is_what_botocore_reads(remembered: None) -> None:
    first = loaders.JSONFileLoader().load_file(str(DATA / "endpoints"))
    assert loaders.JSONFileLoader().load_file(str(DATA / "endpoints")) is first  # another loader, the same answer
    assert first == json.loads((DATA / "endpoints.json").read_text())


def test_a_missing_file_is_looked_for_each_time(remembered: None, tmp_path: Path) -> None:
    missing = tmp_path / "service-2"
    assert loaders.JSONFileLoader().load_file(str(missing)) is None
    missing.with_suffix(".json").write_text('{"version": "2.0"}')
    assert loaders.JSONFileLoader().load_file(str(missing)) == {"version": "2.0"}


def test_services_are_listed_once_per_search_path(remembered: None) -> None:
    services = loaders.Loader().list_available_services("service-2")
    assert "ec2" in services
    assert loaders.Loader().list_available_services("service-2") is services
