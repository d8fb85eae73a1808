"""The warm AWS CLI server's memory of botocore's reading (longtask/local/aws_cli_warmth.py): an answer is read
once per key, and a file not found is looked for again."""

from __future__ import annotations

from typing import Any

from longtask.local.aws_cli_warmth import _remembered


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
