"""The product and the local engine are two houses with one door: only longtask/local_engine.py imports the engine,
functions/ import neither the CLI nor the engine, and the product's package ships none of the engine."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOOR = ROOT / "longtask" / "local_engine.py"


def imported(path: Path) -> set[str]:
    """The top-level packages a module imports (absolute imports, wherever they stand in it)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def modules(folder: str) -> list[Path]:
    return [p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts]


def test_only_the_door_imports_the_engine() -> None:
    product = modules("longtask")
    assert len(product) > 20
    importers = sorted(str(p.relative_to(ROOT)) for p in product if "longtask_engine" in imported(p))
    assert importers == [], importers  # the door imports it by name (importlib), never by an import statement
    assert "longtask_engine" in DOOR.read_text()


def test_the_functions_import_neither_the_cli_nor_the_engine() -> None:
    functions = modules("functions")
    assert len(functions) > 10
    assert not [p for p in functions if imported(p) & {"longtask", "longtask_engine"}]


def test_the_engine_is_a_package_of_its_own_and_the_product_ships_none_of_it() -> None:
    product = tomllib.loads((ROOT / "pyproject.toml").read_text())
    engine = tomllib.loads((ROOT / "engine" / "pyproject.toml").read_text())
    assert product["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["longtask"]
    assert "entry-points" not in product["project"]  # LocalStack's hooks belong to the engine
    assert engine["project"]["name"] == "longtask-engine" and "localstack.hooks.on_infra_start" in engine[
        "project"]["entry-points"]  # fmt: skip
    assert product["project"]["optional-dependencies"]["local"] == ["longtask-engine"]
