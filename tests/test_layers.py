"""Imports point one way: catalog <- core <- joblog/display <- widgets <- magics.

Reads every module's imports with ast (no import runs), so a wrong arrow fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "phaya_notebook"

# layer of a module (by its path under the package) -> package layers it may import
ALLOWED: dict[str, set[str]] = {
    "catalog": set(),
    "core": {"catalog", "core"},
    "sandbox": {"catalog", "sandbox"},
    "joblog": {"catalog", "core"},
    "compare": {"catalog", "core", "joblog", "display", "decide", "report"},
    "decide": set(),
    "report": {"catalog", "display"},
    "session": {"catalog", "core", "joblog", "compare", "display", "progress", "decide", "report"},
    "progress": {"catalog", "display"},
    "display": {"catalog", "core"},
    "widgets": {"catalog", "core", "joblog", "display", "session", "compare", "widgets", "decide", "report"},
    "magic_args": {"catalog"},
    "magics": {"catalog", "core", "joblog", "display", "session", "compare", "widgets", "magic_args"},
    "__init__": {"core", "session", "magics"},
    "demo": set(),
}
# lazy (function-level) imports that are allowed to point upward, and why
LAZY_OK = {
    ("session", "widgets"),  # session.studio() & co. build widgets on demand
    ("core", "display"),  # Result._repr_mimebundle_ renders through display.render (interfaces.md)
}
THIRD_PARTY_BANNED = {
    "core": {"IPython", "ipywidgets", "pandas", "fastapi", "uvicorn", "matplotlib"},
    "catalog": {"IPython", "ipywidgets", "pandas", "httpx", "fastapi"},
    "sandbox": {"IPython", "ipywidgets", "pandas"},
    "joblog": {"IPython", "ipywidgets"},
}


def _layer(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(absolute module name, is_top_level) for every import in a file."""
    tree = ast.parse(path.read_text(), str(path))
    pkg_parts = ["phaya_notebook", *path.relative_to(PKG).parent.parts]
    top_level = {id(n) for n in tree.body}
    for node in tree.body:  # imports under `if TYPE_CHECKING:` / try at module level count as top level
        for sub in ast.walk(node):
            if isinstance(sub, (ast.If, ast.Try)) and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                top_level.update(id(x) for x in ast.walk(sub))
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append((mod, id(node) in top_level))
    return found


FILES = sorted(p for p in PKG.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_point_one_way(path: Path) -> None:
    layer = _layer(path)
    allowed = ALLOWED.get(layer)
    assert allowed is not None, f"{path.name}: new layer {layer!r} - add it to the map in this test"
    for mod, top in _imports(path):
        parts = mod.split(".")
        if parts[0] == "phaya_notebook" and len(parts) > 1:
            target = parts[1]
            if target == layer or target in allowed:
                continue
            if not top and (layer, target) in LAZY_OK:
                continue
            pytest.fail(f"{path.relative_to(PKG)} imports {mod} ({layer} -> {target} is not allowed)")
        banned = THIRD_PARTY_BANNED.get(layer, set())
        assert parts[0] not in banned, f"{path.relative_to(PKG)} imports {mod}"
        if parts[0] == "nest_asyncio":
            assert path.relative_to(PKG).as_posix() == "core/sync.py", "nest_asyncio only in core/sync.py"
