"""Dependencies point one way: cli/web -> jobs -> db/data -> domain -> engine; cli -> ops."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "privatetrade"

FORBIDDEN = {
    "engine": {"web", "jobs", "db", "domain", "data", "cli"},
    "domain": {"web", "jobs", "db", "data", "cli"},
    "db": {"web", "jobs", "cli"},
    "data": {"web", "jobs", "db", "cli"},
    "jobs": {"web", "cli"},
    "ops": {"web", "jobs", "cli"},
}
# Only the command line (and ``python -m privatetrade``) may import these.
CLI_ONLY = {"cli", "ops"}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] == "privatetrade" and len(parts) > 1:
                names.add(parts[1])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_upwards(package: str) -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in (PACKAGE / package).rglob("*.py")
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_only_the_command_line_imports_cli_and_ops() -> None:
    offenders = {
        str(relative): sorted(imported_packages(path) & CLI_ONLY - {relative.parts[0]})
        for path in PACKAGE.rglob("*.py")
        if (relative := path.relative_to(PACKAGE)).parts[0] not in {"cli", "__main__.py"}
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_the_checker_sees_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from privatetrade.web.app import create_app\nimport privatetrade.db.jobs\n")
    assert imported_packages(module) == {"web", "db"}
