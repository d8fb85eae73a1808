"""The bootstrap's masker (mask.py, written from userdata/bootstrap.sh) on the script's output as it streams: every
secret value, its lines and the strings inside a JSON secret become ***, metacharacters and all, also when a value
is cut between two reads; and in diagnostics files, in place. And its read of one key of a JSON secret."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

BOOTSTRAP = Path(__file__).parents[3] / "userdata" / "bootstrap.sh"
TRICKY = "p@ss$(rm -rf /)`x`'\"\\.*+?[a-z]{2}|^$ 100%"  # shell and regex metacharacters


@pytest.fixture
def masker(tmp_path: Path) -> Path:
    """mask.py as the bootstrap writes it."""
    program = re.search(r"<<'MASK'\n(.*?)\nMASK\n", BOOTSTRAP.read_text(), re.S)
    assert program, "the bootstrap writes mask.py from a MASK here-document"
    path = tmp_path / "mask.py"
    path.write_text(program.group(1) + "\n")
    return path


def values_file(tmp_path: Path, *values: str) -> Path:
    path = tmp_path / "mask-values"
    path.write_bytes(b"".join(value.encode() + b"\0" for value in values))
    return path


def stream(masker: Path, values: Path, *pieces: str) -> str:
    """What the masker passes on when the script writes `pieces` one at a time, a read apart."""
    process = subprocess.Popen([sys.executable, str(masker), str(values)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE)  # fmt: skip
    assert process.stdin is not None
    for piece in pieces:
        process.stdin.write(piece.encode())
        process.stdin.flush()
        time.sleep(0.05)  # each piece is a read of its own
    out, _ = process.communicate(timeout=10)
    return out.decode()


def test_values_with_metacharacters_are_masked(masker: Path, tmp_path: Path) -> None:
    out = stream(masker, values_file(tmp_path, TRICKY), f"password is {TRICKY}.\n", f"again:{TRICKY}{TRICKY}\n")
    assert out == "password is ***.\nagain:******\n"


def test_a_value_cut_between_two_reads_is_still_masked(masker: Path, tmp_path: Path) -> None:
    values = values_file(tmp_path, TRICKY)
    for cut in range(1, len(TRICKY)):
        out = stream(masker, values, f"[{TRICKY[:cut]}", f"{TRICKY[cut:]}]\n")
        assert out == "[***]\n", cut


def test_text_that_only_begins_like_a_value_comes_through_whole(masker: Path, tmp_path: Path) -> None:
    assert stream(masker, values_file(tmp_path, "hunter2secret"), "hunter", "2 is not it\n", "hunt") == (
        "hunter2 is not it\nhunt")


def test_each_line_of_a_value_and_each_string_in_a_json_secret_is_masked(masker: Path, tmp_path: Path) -> None:
    document = json.dumps({"username": "app-user", "password": TRICKY, "port": 5432, "db": "ab"})
    pem = "-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----"
    out = stream(masker, values_file(tmp_path, document, pem),
                 f"{document}\nuser app-user, password {TRICKY}, db ab\nkey line AAAABBBBCCCC\n")  # fmt: skip
    assert out == "***\nuser ***, password ***, db ab\nkey line ***\n"  # a string under 4 characters is left


def test_diagnostics_files_are_masked_in_place(masker: Path, tmp_path: Path) -> None:
    report = tmp_path / "processes.txt"
    report.write_text(f"123 S do_wait bash -c curl -u admin:{TRICKY} https://example.com\n")
    subprocess.run([sys.executable, str(masker), str(values_file(tmp_path, TRICKY)), str(report)], check=True)
    assert report.read_text() == "123 S do_wait bash -c curl -u admin:*** https://example.com\n"


def test_a_json_key_is_read_from_a_secret() -> None:
    """The bootstrap's json_key, run by bash as the bootstrap runs it."""
    function = re.search(r"^json_key\(\) \{\n.*?\n\}$", BOOTSTRAP.read_text(), re.S | re.M)
    assert function, "the bootstrap defines json_key"

    def json_key(key: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", f'{function.group(0)}\njson_key "$1"', "bash", key], capture_output=True,
                              text=True, input=json.dumps({"password": TRICKY}))  # fmt: skip

    read = json_key("password")
    assert (read.returncode, read.stdout) == (0, TRICKY)
    missing = json_key("pass")
    assert missing.returncode == 1 and "not a JSON object with the key 'pass'" in missing.stderr
