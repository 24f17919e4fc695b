"""The package's shape, checked from source with ast (no import runs): a checker that can fail.

``tests/test_layers.py`` checks arrows per layer; this file is stricter and is shown failing:
- every import form is resolved to the module it loads (``from . import X``, ``from .. import X``,
  ``from .x import y``, ``import phaya_notebook.x``, ``from phaya_notebook import x``);
- an import cycle among package modules fails (``TYPE_CHECKING`` imports and function-level
  imports count too) unless every module in it is in ``CYCLE_ALLOW``;
- a function-level (lazy) import may point upward only from a file named in ``LAZY_UPWARD``;
- a module over ``MAX_LINES`` fails unless it is in ``OVERSIZED`` at no more than its size there;
- a module may not reach another module's private members: ``obj._name`` where ``obj`` is not
  ``self``/``cls``/``super()`` and ``_name`` is not defined in the same module (a def, a class, a
  ``self._name =`` assignment, a class-body name or ``__slots__`` entry), nor import a ``_name``
  from another package module, unless listed in ``PRIVATE_ALLOW``.
"""

from __future__ import annotations

import ast
import shutil
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .test_layers import ALLOWED

PKG = Path(__file__).resolve().parents[1] / "phaya_notebook"
MAX_LINES = 400

# layer (first name under the package) -> layers its modules may import: one map, test_layers'
LAYERS: dict[str, set[str]] = ALLOWED
# (file under the package, layer) pairs that may import upward inside a function, and why
LAZY_UPWARD: dict[tuple[str, str], str] = {
    ("core/results.py", "display"): "Result._repr_mimebundle_ renders through display.render",
    ("session/session.py", "widgets"): "session.studio() & co. build widgets on demand",
}
# Import cycles that exist today, by module. Issue 11's Job <-> client contract (jobs.JobBackend,
# scheduler.PollState, create.JobRequests) removed the eight-module core cycle; this
# list may only shrink. A cycle with any module not listed fails.
CYCLE_ALLOW: frozenset[str] = frozenset({
    # empty: chat, errors, local_media, wire, daily, client, create, jobs and scheduler left the core
    # cycle (errors.py no longer imports jobs; Job talks to a JobBackend, not to client.py); the
    # joblog package's own cycle went with its split
})
# Modules over MAX_LINES on main today, with their size then: a module may shrink,
# never grow past it; a module not listed fails at MAX_LINES + 1.
OVERSIZED: dict[str, int] = {
    # empty: catalog, joblog, session, magics, display, core.client and core.jobs were split
}
# Cross-module private access on main when the check was written, by module -> member names.
# Issue 11's Job <-> client contract, ledger and store surfaces remove them; this list may only shrink.
PRIVATE_ALLOW: dict[str, set[str]] = {
    "phaya_notebook.core.sync": {"_ready"},
}
# Names with a leading underscore that are public protocol, not privates (namedtuple, sys).
PRIVATE_PROTOCOL = frozenset({"_replace", "_asdict", "_fields", "_make", "_getframe"})


@dataclass(frozen=True)
class Arrow:
    source: str  # importing module, e.g. phaya_notebook.core.wire
    target: str  # imported module (resolved to a file of the package)
    kind: str  # "top", "type" (under TYPE_CHECKING) or "lazy" (inside a function)
    line: int


def module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(root, p): p for p in sorted(root.rglob("*.py"))}


def _kinds(tree: ast.Module) -> dict[int, str]:
    """Kind of every import node: lazy under a def, type under ``if TYPE_CHECKING``, else top."""
    out: dict[int, str] = {}

    def visit(node: ast.AST, kind: str) -> None:
        for child in ast.iter_child_nodes(node):
            k = kind
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                k = "lazy"
            elif isinstance(child, ast.If) and kind == "top" and "TYPE_CHECKING" in ast.unparse(child.test):
                for sub in child.body:
                    visit_one(sub, "type")
                for sub in child.orelse:
                    visit_one(sub, "top")
                continue
            visit_one(child, k)

    def visit_one(node: ast.AST, kind: str) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out[id(node)] = kind
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            kind = "lazy"
        visit(node, kind)

    visit(tree, "top")
    return out


def arrows(root: Path) -> list[Arrow]:
    """Every import of a package module by a package module, resolved to the module it loads."""
    mods = modules(root)
    pkg = root.name
    found: list[Arrow] = []
    for name, path in mods.items():
        tree = ast.parse(path.read_text(), str(path))
        kinds = _kinds(tree)
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - node.level + 1]
                    assert base, f"{path}: relative import above the package"
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                # `from X import y` loads X.y when y is a module, else X
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
            for t in targets:
                if t.split(".")[0] != pkg:
                    continue
                while t not in mods and "." in t:  # an attribute path: its module
                    t = t.rsplit(".", 1)[0]
                if t in mods and t != name:
                    found.append(Arrow(name, t, kinds[id(node)], node.lineno))
    return found


def layer_of(pkg: str, module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def wrong_arrows(root: Path, layers: dict[str, set[str]],
                 lazy_upward: Iterable[tuple[str, str]]) -> list[str]:
    """Arrows no rule allows: an unknown layer, or an import of a layer not below this one."""
    pkg, lazy_ok, problems = root.name, set(lazy_upward), []
    for a in arrows(root):
        src, dst = layer_of(pkg, a.source), layer_of(pkg, a.target)
        if src not in layers:
            problems.append(f"{a.source}: layer {src!r} is not in the layer map")
            continue
        if dst == src or dst in layers[src]:
            continue
        rel = modules(root)[a.source].relative_to(root).as_posix()
        if a.kind == "lazy" and (rel, dst) in lazy_ok:
            continue
        problems.append(f"{a.source} imports {a.target} ({a.kind}, line {a.line}): {src} -> {dst} is not allowed")
    return problems


def cycles(root: Path) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), every import kind counted."""
    graph: dict[str, set[str]] = {m: set() for m in modules(root)}
    for a in arrows(root):
        graph[a.source].add(a.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def line_counts(root: Path) -> dict[str, int]:
    return {name: len(path.read_text().splitlines()) for name, path in modules(root).items()}


def _own_names(tree: ast.Module) -> set[str]:
    """Names a module defines for itself: defs, classes, ``self._x =``, class-body names, slots."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
              and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            names.add(node.attr)
        if isinstance(node, ast.ClassDef):
            for st in node.body:
                targets = st.targets if isinstance(st, ast.Assign) else [st.target] if isinstance(st, ast.AnnAssign) else []
                for t in targets:
                    if isinstance(t, ast.Name):
                        names.add(t.id)
                if (isinstance(st, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in st.targets)
                        and isinstance(st.value, (ast.Tuple, ast.List))):
                    names |= {e.value for e in st.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return names


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and not name.endswith("_") and name not in PRIVATE_PROTOCOL


def private_access(root: Path) -> dict[str, dict[str, int]]:
    """module -> {private member name: first line} reached from another module."""
    out: dict[str, dict[str, int]] = {}
    for name, path in modules(root).items():
        tree = ast.parse(path.read_text(), str(path))
        own = _own_names(tree)
        found: dict[str, int] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _is_private(node.attr) and node.attr not in own:
                v = node.value
                if isinstance(v, ast.Name) and v.id in ("self", "cls"):
                    continue
                if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "super":
                    continue
                found.setdefault(node.attr, node.lineno)
            elif isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(root.name)):
                for alias in node.names:
                    if _is_private(alias.name):
                        found.setdefault(alias.name, node.lineno)
        if found:
            out[name] = found
    return out


def private_problems(root: Path, allow: dict[str, set[str]]) -> list[str]:
    return [f"{mod}:{line}: reaches another module's private {attr}"
            for mod, found in sorted(private_access(root).items())
            for attr, line in sorted(found.items(), key=lambda kv: kv[1]) if attr not in allow.get(mod, set())]


# ---------------------------------------------------------------- the package


def test_every_arrow_points_down_or_is_a_named_lazy_import() -> None:
    assert wrong_arrows(PKG, LAYERS, LAZY_UPWARD) == []


def test_no_import_cycle_outside_the_allow_list() -> None:
    bad = [c for c in cycles(PKG) if not set(c) <= CYCLE_ALLOW]
    assert bad == [], f"import cycles: {bad}"


def test_the_sandbox_imports_only_catalog_from_the_package() -> None:
    for a in arrows(PKG):
        if a.source.startswith("phaya_notebook.sandbox"):
            assert a.target.startswith(("phaya_notebook.sandbox", "phaya_notebook.catalog")), a


def test_no_module_grows_over_the_line_limit() -> None:
    sizes = line_counts(PKG)
    over = {m: n for m, n in sizes.items() if n > MAX_LINES and n > OVERSIZED.get(m, MAX_LINES)}
    assert over == {}, f"over {MAX_LINES} lines (split along its sections): {over}"


def test_no_module_reaches_another_modules_private_members() -> None:
    assert private_problems(PKG, PRIVATE_ALLOW) == []


def test_the_private_allow_list_only_names_what_is_still_there() -> None:
    """An entry that is fixed must leave the list, so the list can only shrink."""
    found = private_access(PKG)
    stale = {m: sorted(names - set(found.get(m, {}))) for m, names in PRIVATE_ALLOW.items()}
    assert {m: v for m, v in stale.items() if v} == {}


# ---------------------------------------------------------------- the checker fails on a planted wrong arrow


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for rel, text in {"__init__.py": "", "core/__init__.py": "", "widgets/__init__.py": "",
                      "catalog.py": "", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return root


SYNTHETIC_LAYERS = {"__init__": {"core", "widgets"}, "catalog": set(), "core": {"catalog"},
                    "widgets": {"core", "catalog"}}


def test_the_checker_reports_a_planted_upward_import_in_every_form(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "core/wire.py": "from .. import widgets\n",
        "core/a.py": "from ..widgets import view\n",
        "core/b.py": "import pkg.widgets.view\n",
        "core/c.py": "from pkg import widgets\n",
        "core/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..widgets.view import V\n",
        "core/e.py": "def f():\n    from ..widgets import view\n",
        "core/ok.py": "from . import wire\nfrom .. import catalog\nfrom ..catalog import X\n",
        "widgets/view.py": "from ..core import ok\n",
    })
    problems = wrong_arrows(root, SYNTHETIC_LAYERS, set())
    for src, dst in [("pkg.core.wire", "pkg.widgets"), ("pkg.core.a", "pkg.widgets.view"),
                     ("pkg.core.b", "pkg.widgets.view"), ("pkg.core.c", "pkg.widgets"),
                     ("pkg.core.d", "pkg.widgets.view"), ("pkg.core.e", "pkg.widgets.view")]:
        assert any(p.startswith(f"{src} imports {dst} ") for p in problems), (src, problems)
    assert len(problems) == 6, problems
    # the lazy one is allowed once its file is named, the top-level ones never are
    allowed = wrong_arrows(root, SYNTHETIC_LAYERS, {("core/e.py", "widgets"), ("core/wire.py", "widgets")})
    assert len(allowed) == 5 and not any(p.startswith("pkg.core.e ") for p in allowed)


def test_the_checker_reports_a_planted_cycle(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "core/app.py": "from . import gate\n",
        "core/gate.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .app import Sandbox\n",
        "core/x.py": "def f():\n    from .y import g\n",
        "core/y.py": "from .x import f\n",
        "core/z.py": "from . import app\n",
    })
    assert cycles(root) == [["pkg.core.app", "pkg.core.gate"], ["pkg.core.x", "pkg.core.y"]]
    (root / "core/gate.py").write_text("X = 1\n")
    assert cycles(root) == [["pkg.core.x", "pkg.core.y"]]


def test_the_checker_reports_a_long_module(tmp_path: Path) -> None:
    root = _package(tmp_path, {"core/long.py": "x = 1\n" * (MAX_LINES + 1)})
    assert line_counts(root)["pkg.core.long"] == MAX_LINES + 1


def test_the_checker_catches_issue_11s_planted_arrows_in_a_copy_of_the_package(tmp_path: Path) -> None:
    """The arrows test_layers.py let through: ``from .. import widgets`` in core/wire.py, and
    the sandbox app <-> gate cycle through a ``TYPE_CHECKING`` import."""
    root = tmp_path / "phaya_notebook"
    shutil.copytree(PKG, root, ignore=shutil.ignore_patterns("__pycache__"))
    assert wrong_arrows(root, LAYERS, LAZY_UPWARD) == [] and cycles(root) == cycles(PKG)
    with (root / "core" / "wire.py").open("a") as f:
        f.write("\nfrom .. import widgets  # planted\n")
    with (root / "sandbox" / "gate.py").open("a") as f:
        f.write("\nif TYPE_CHECKING:  # planted\n    from .app import create_app\n")
    problems = wrong_arrows(root, LAYERS, LAZY_UPWARD)
    assert [p.split(" (")[0] for p in problems] == ["phaya_notebook.core.wire imports phaya_notebook.widgets"]
    found = cycles(root)
    assert any({"phaya_notebook.sandbox.app", "phaya_notebook.sandbox.gate"} <= set(c) for c in found), found
    assert [c for c in found if not set(c) <= CYCLE_ALLOW], "the no-cycle test would pass"


def test_the_checker_reports_planted_private_access(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "core/jobs.py": """
            class Job:
                __slots__ = ("_slot",)
                def __init__(self, client):
                    self._client = client
                    self._own = 1
                def run(self, other):
                    self._client._poll(self)      # planted: the client's private
                    other._own                    # same module: allowed
                    super()._base                 # own hierarchy: allowed
                    return self._own
        """,
        "core/client.py": """
            from .jobs import _helper, Job
            import collections
            def f(job, p):
                job._slot = 2                     # planted: Job's private, written from here
                p._replace(x=1)                   # namedtuple protocol: allowed
                return job._repr_html_()          # IPython protocol: allowed
        """,
    })
    assert private_problems(root, {}) == [
        "pkg.core.client:2: reaches another module's private _helper",
        "pkg.core.client:5: reaches another module's private _slot",
        "pkg.core.jobs:8: reaches another module's private _poll",
    ]
    assert private_problems(root, {"pkg.core.jobs": {"_poll"}, "pkg.core.client": {"_helper", "_slot"}}) == []
