"""Dependencies point one way: cli/web -> jobs -> db/data -> domain -> engine; cli -> ops."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "privatetrade"

# What each package may import of privatetrade (besides itself): dependencies point one way,
# cli -> web -> system -> jobs -> plans -> data, db -> domain -> engine -> errors.
LEAVES = {"errors", "files", "logs", "_version_info"}
ALLOWED: dict[str, set[str]] = {
    "engine": {"errors"},
    "domain": {"engine", "errors"},
    "data": {"engine", "errors", "files"},
    "db": {"domain", "errors"},
    "research": {"domain", "engine", "errors", "files"},
    "plans": {"data", "domain", "engine", "errors", "research"},
    "accounts": {"db", "domain", "errors"},
    "observability": {"db", "domain", "errors"},
    "notifications": {"db", "domain", "errors", "logs", "settings"},
    "jobs": {"data", "db", "domain", "engine", "errors", "logs", "plans", "research"},
    "ops": {"db", "engine", "errors", "files", "settings"},
    "settings": {"domain"},
    "system": {
        "accounts",
        "data",
        "db",
        "domain",
        "errors",
        "jobs",
        "notifications",
        "observability",
        "settings",
    },
    "web": {
        "accounts",
        "data",
        "db",
        "domain",
        "engine",
        "errors",
        "jobs",
        "logs",
        "notifications",
        "observability",
        "plans",
        "research",
        "settings",
        "system",
    },
    "cli": {
        "accounts",
        "data",
        "db",
        "domain",
        "engine",
        "errors",
        "files",
        "jobs",
        "logs",
        "ops",
        "plans",
        "research",
        "settings",
        "system",
    },
}
# Only the command line (and ``python -m privatetrade``) may import these.
CLI_ONLY = {"cli", "ops"}
# Numba kernels see only numpy, numba and the engine's record types.
KERNEL_ALLOWED_MODULES = {"privatetrade.engine.records"}
KERNEL_ALLOWED_PREFIXES = ("privatetrade.engine.kernels",)
KERNEL_ALLOWED_THIRD_PARTY = {"numpy", "numba", "__future__", "math", "typing", "collections"}


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


def _package_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def test_every_package_has_a_rule() -> None:
    packages = {_package_of(path) for path in PACKAGE.rglob("*.py")}
    unruled = packages - set(ALLOWED) - LEAVES - {"__init__", "__main__", "_version"}
    assert unruled == set()


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package: str) -> None:
    paths = [PACKAGE / f"{package}.py"] if (PACKAGE / f"{package}.py").exists() else []
    paths += sorted((PACKAGE / package).rglob("*.py")) if (PACKAGE / package).is_dir() else []
    assert paths
    permitted = ALLOWED[package] | LEAVES | {package}
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(imported_packages(path) - permitted)
        for path in paths
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def _modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_kernels_import_only_numpy_numba_and_record_types() -> None:
    kernels = sorted((PACKAGE / "engine" / "kernels").glob("*.py"))
    assert len(kernels) >= 4
    offenders = {}
    for path in kernels:
        bad = {
            module
            for module in _modules(path)
            if module not in KERNEL_ALLOWED_MODULES
            and not module.startswith(KERNEL_ALLOWED_PREFIXES)
            and module.split(".")[0] not in KERNEL_ALLOWED_THIRD_PARTY
        }
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}


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
