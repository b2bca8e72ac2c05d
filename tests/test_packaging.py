"""Every extra installs what its package imports: a paper's modules import only the standard
library, `common`, the paper itself and distributions named in the base dependencies or that
paper's extra (the argus3d extra once lacked transformers)."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PAPERS = sorted(p.parent.name for p in ROOT.glob("papers/*/__init__.py"))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imports(path: Path, module_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"common", "papers", "__future__"}


def _missing(imports: set[str], allowed: set[str]) -> list[str]:
    dists = packages_distributions()
    return sorted(
        name
        for name in imports
        if not {d.lower().replace("_", "-") for d in dists.get(name, [name])} & allowed
    )


BASE = {_name(r) for r in PYPROJECT["dependencies"]}


def test_every_paper_has_an_extra_and_a_package():
    extras = PYPROJECT["optional-dependencies"]
    assert PAPERS == sorted(p.parent.name for p in ROOT.glob("papers/*/workflow.smk"))
    assert set(PAPERS) <= set(extras)


@pytest.mark.parametrize("paper", PAPERS)
def test_extra_covers_the_papers_imports(paper):
    allowed = BASE | {_name(r) for r in PYPROJECT["optional-dependencies"][paper]}
    imports = set().union(
        *(_imports(p, module_level_only=False) for p in (ROOT / "papers" / paper).rglob("*.py"))
    )
    assert not _missing(imports, allowed), f"{paper} imports packages its extra lacks"


def test_common_needs_only_the_base_dependencies():
    imports = set().union(
        *(_imports(p, module_level_only=True) for p in (ROOT / "common").glob("*.py"))
    )
    assert not _missing(imports, BASE)


def test_every_package_folder_has_an_init():
    folders = {p.parent for p in (ROOT / "papers").rglob("*.py")} | {ROOT / "common"}
    assert not [f for f in folders if not (f / "__init__.py").exists()]
