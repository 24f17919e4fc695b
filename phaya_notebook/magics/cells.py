"""Which cell is running, and will IPython display a magic's return value itself?

``%phaya image cat`` as a cell's last expression is shown by IPython's display hook;
``r = %phaya image cat`` is not. The handler displays the media only in the second case,
so it appears once either way. Read from the cell's source with ``ast`` (no execution).
"""

from __future__ import annotations

import ast
from typing import Any


def is_phaya_call(node: Any) -> bool:
    """``get_ipython().run_line_magic('phaya', ...)`` or ``run_cell_magic('phaya', ...)``."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("run_line_magic", "run_cell_magic")
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value == "phaya"
    )


def result_will_display(shell: Any, raw: str | None) -> bool:
    """Will IPython show this call's return value itself (it is the cell's shown expression)?

    ``raw`` is the running cell's source (None outside a cell, e.g. a widget callback:
    then the handler always displays).
    """
    if raw is None or shell is None:
        return False
    from IPython.core.displayhook import DisplayHook

    try:
        source = shell.transform_cell(raw)
        tree = ast.parse(source)
    except Exception:
        return False
    calls = [n for n in ast.walk(tree) if is_phaya_call(n)]
    if len(calls) != 1 or not tree.body or DisplayHook.semicolon_at_end_of_expression(source):
        return False
    mode = shell.ast_node_interactivity
    last = tree.body[-1]
    is_expr = isinstance(last, ast.Expr) and is_phaya_call(last.value)
    if mode in ("last_expr", "last"):
        return is_expr
    if mode == "last_expr_or_assign":
        return is_expr or (isinstance(last, (ast.Assign, ast.AnnAssign)) and is_phaya_call(last.value))
    if mode == "all":
        return any(isinstance(n, ast.Expr) and is_phaya_call(n.value) for n in tree.body)
    return False
