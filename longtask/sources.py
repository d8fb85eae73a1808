"""What a deployment of the application is made of: where its sources are, and a digest of them (its version)."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

DIGEST_METADATA = "LongTask::SourceDigest"  # the template metadata a deployment records its digest under


def home() -> Path:
    """Where the project keeps its state (.longtask/: builds, and the local engine's): LONGTASK_HOME, else the folder
    holding the virtual environment that runs us (the checkout)."""
    return Path(os.environ.get("LONGTASK_HOME") or Path(sys.prefix).resolve().parent).resolve()


def app_dir() -> Path:
    """The application (template.yaml, functions/, statemachine/, userdata/): this checkout, else the cwd."""
    checkout = Path(__file__).resolve().parents[1]
    return checkout if (checkout / "template.yaml").is_file() else Path.cwd()


def source_digest(root: Path) -> str:
    """A digest of everything a deployment is made of."""
    digest = hashlib.sha256()
    files = [root / "template.yaml"]
    for folder in ("functions", "statemachine", "userdata"):
        files += source_files(root / folder)
    for file in files:
        digest.update(str(file.relative_to(root)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def source_files(folder: Path) -> list[Path]:
    """The files under folder, in order, through linked folders too (each function links common/, as `sam build`
    copies it), without bytecode caches."""
    found = []
    for directory, subdirectories, files in os.walk(folder, followlinks=True):
        subdirectories[:] = [d for d in subdirectories if d != "__pycache__"]
        found += [Path(directory, name) for name in files]
    return sorted(found)
