"""The wheel's package list (pyproject.toml) must name every package folder.

setuptools is told the packages explicitly because index/ and bot/ install
under another name (citebot.index, citebot.bot); a new sub-folder missing from
the list would work in the editable checkout and vanish from the wheel.
"""

from __future__ import annotations

import tomllib

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
