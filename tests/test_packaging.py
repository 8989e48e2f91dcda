"""The wheel's package list (pyproject.toml) must name every package folder.

setuptools is told the packages explicitly because index/ and bot/ install
under another name (citebot.index, citebot.bot); a new sub-folder missing from
the list would work in the editable checkout and vanish from the wheel.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT


def test_every_package_folder_is_in_the_wheel() -> None:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping: dict[str, str] = config["package-dir"]
    listed = set(config["packages"])
    on_disk = set()
    for name, folder in mapping.items():
        for init in (PROJECT_ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(PROJECT_ROOT / folder)
            if "__pycache__" not in relative.parts:
                on_disk.add(".".join([name, *relative.parts]))
    assert on_disk == listed


def test_public_api_names_resolve() -> None:
    import citebot.index as api
    import citebot.index.eval as eval_api

    for module in (api, eval_api):
        for name in module.__all__:
            assert getattr(module, name) is not None, name


# ---- declared dependencies ------------------------------------------------------
# A module imported by the code but only present as someone else's dependency
# works in the dev venv and breaks in a user's (yarl, lxml_html_clean were such).
# Each folder must import only what its install declares.
_FIRST_PARTY = {"citebot", "bench", "tests"}


def _requirement_names(requirements: list[str]) -> set[str]:
    return {_normalise(re.match(r"[A-Za-z0-9._-]+", r).group(0)) for r in requirements}  # type: ignore[union-attr]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules(folder: Path) -> dict[str, str]:
    """Third-party modules imported anywhere under ``folder`` -> one file importing it."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in _FIRST_PARTY:
                    found.setdefault(name, str(path.relative_to(PROJECT_ROOT)))
    return found


@functools.cache
def _top_level_providers() -> dict[str, list[str]]:
    return packages_distributions()


@functools.cache
def _files(dist: str) -> tuple[str, ...]:
    return tuple(str(f) for f in distribution(dist).files or [])


def _providers(module: str) -> set[str]:
    """Distributions that install ``module`` (namespace packages: by their sub-package)."""
    parts = module.split(".")
    dists = set(_top_level_providers().get(parts[0], []))
    if len(dists) > 1 and len(parts) > 1:  # e.g. llama_index.core vs llama_index.llms
        prefix = f"{parts[0]}/{parts[1]}/"
        dists = {d for d in dists if any(f.startswith(prefix) for f in _files(d))}
    return {_normalise(d) for d in dists}


@pytest.mark.parametrize(
    ("folders", "extras"),
    [(("index", "bot"), ()), (("bench",), ("bench",))],
    ids=["core-and-front-ends", "bench"],
)
def test_every_imported_package_is_declared(
    folders: tuple[str, ...], extras: tuple[str, ...]
) -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    declared = _requirement_names(project["dependencies"])
    for extra in extras:
        declared |= _requirement_names(project["optional-dependencies"][extra])
    undeclared = {}
    for folder in folders:
        for module, where in _imported_modules(PROJECT_ROOT / folder).items():
            providers = _providers(module)
            assert providers, f"{module} (imported in {where}) is not installed"
            if not providers & declared:
                undeclared[module] = f"{where}: provided by {sorted(providers)}"
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
