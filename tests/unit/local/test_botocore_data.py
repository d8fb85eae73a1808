"""botocore's data files read once per process (longtask_engine/botocore_data.py): an answer is read once per key,
a file not found is looked for again, and what a loader gets is what it would have read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore
import pytest
from botocore import loaders
from longtask_engine.in_localstack.botocore_data import _remembered, remember_data_files

DATA = Path(botocore.__file__).with_name("data")


class Reader:
    def __init__(self, files: dict[str, dict[str, Any]]) -> None:
        self.files, self.reads = files, 0

    def load_file(self, path: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.files.get(path)


def test_an_answer_is_read_once_per_key_and_the_same_answer_is_given_again() -> None:
    load = _remembered(Reader.load_file, lambda _, path: path)
    reader = Reader({"endpoints": {"partitions": []}, "s3/service-2": {"operations": {}}})
    first = load(reader, "endpoints")
    assert load(reader, path="endpoints") is first  # by keyword too, as botocore calls some of them
    assert load(reader, "s3/service-2") == {"operations": {}}
    assert reader.reads == 2


def test_a_file_not_found_is_looked_for_again() -> None:
    load = _remembered(Reader.load_file, lambda _, path: path)
    reader = Reader({})
    assert load(reader, "models/custom") is None
    reader.files["models/custom"] = {"found": True}
    assert load(reader, "models/custom") == {"found": True}
    assert reader.reads == 2


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


def test_services_are_listed_once_per_search_path(remembered: None) -> None:
    services = loaders.Loader().list_available_services("service-2")
    assert "ec2" in services
    assert loaders.Loader().list_available_services("service-2") is services
