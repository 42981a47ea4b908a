"""``tree_diff``: the edit path between two syntax trees (the reverse path of a corruption).

An :class:`Edit` replaces a node, deletes a statement, or inserts a statement; ``new`` is the
normalised source of the new node (``node_source``: for operator nodes the symbol, e.g.
``"+"``, ``"<="``, ``"and"``, ``"not"``, ``"not in"``). Edits address nodes by path
(see :mod:`kelp.program.tree`) in the tree *as it is when the edit is applied*; the list
returned by :func:`tree_diff` is ordered so that applying it sequentially works (within
each statement list, from the highest index down).

The diff descends while node types match and compares fields; statement lists are aligned
with ``difflib.SequenceMatcher`` on per-statement dumps; anything else that differs is
replaced at the smallest differing subtree that can be written as a standalone fragment
(statement, expression or operator). So a single operator flip or renamed variable is
exactly one edit at the innermost differing node. Pure code: no I/O, no randomness.
"""

from __future__ import annotations

import ast
import copy
import difflib
from dataclasses import dataclass
from typing import Iterable

from kelp.program.fragment import dump, fragment_kind, parse_fragment, parse_stmt, roundtrips
from kelp.program.tree import (
    Path,
    PathError,
    ProgramError,
    ProgramSyntaxError,
    list_at,
    node_at,
    node_source,
    parse,
    insert_at,
    replace_at,
)

__all__ = ["Edit", "EditError", "apply_edits", "tree_diff"]

_OPS = ("replace", "delete", "insert")
_STMT_LIST_FIELDS = ("body", "orelse", "finalbody")
_ATOMIC = (ast.JoinedStr,)  # f-strings are replaced whole; their pieces are not fragments


class EditError(ProgramError):
    """An edit that does not apply to a tree (missing path, wrong kind of fragment, or a
    result that is not valid Python)."""


@dataclass(frozen=True)
class Edit:
    """One step of an edit path.

    ``op``: "replace" | "delete" | "insert". ``path``: for replace/delete the node's path;
    for insert the path of the statement list (e.g. ``("body", 0, "body")``). ``index``:
    insert only, the list position the new statement will occupy. ``new``: replace/insert,
    the normalised source of the new node (an operator symbol for operator nodes);
    None for delete. Raises EditError on an inconsistent combination.
    """

    op: str
    path: Path
    index: int | None = None
    new: str | None = None

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise EditError(f"unknown edit op {self.op!r}; expected one of {_OPS}")
        if not isinstance(self.path, tuple):
            object.__setattr__(self, "path", tuple(self.path))
        if self.op == "insert" and (self.index is None or self.new is None):
            raise EditError("an insert edit needs both index and new")
        if self.op == "replace" and self.new is None:
            raise EditError("a replace edit needs new")
        if self.op == "delete" and (self.new is not None or self.index is not None):
            raise EditError("a delete edit takes neither index nor new")
        if self.op != "insert" and self.index is not None:
            raise EditError(f"index is only meaningful for insert, not {self.op}")

    def apply(self, tree: ast.AST, check: bool = True) -> ast.Module:
        """Return a NEW tree with this edit applied (``tree`` is not modified).

        With ``check`` (default) the result must unparse to source that parses again.
        Raises EditError with a readable reason when the edit does not apply.
        """
        try:
            if self.op == "replace":
                if not self.path:
                    raise EditError("cannot replace the module root")
                slot = node_at(tree, self.path)
                out = replace_at(tree, self.path, parse_fragment(self.new, slot))
            elif self.op == "delete":
                if not self.path or not isinstance(self.path[-1], int):
                    raise EditError(f"delete needs a list element path, got {self.path!r}")
                node = node_at(tree, self.path)
                if not isinstance(node, ast.stmt):
                    raise EditError(f"delete only removes statements, {self.path!r} is a {type(node).__name__}")
                out = replace_at(tree, self.path, None)
            else:
                target = list_at(tree, self.path)
                if not (self.path and self.path[-1] in _STMT_LIST_FIELDS):
                    raise EditError(f"insert needs a statement list path, got {self.path!r}")
                if any(not isinstance(s, ast.stmt) for s in target):
                    raise EditError(f"{self.path!r} is not a statement list")
                out = insert_at(tree, self.path, self.index, parse_stmt(self.new))
        except (PathError, ProgramSyntaxError) as exc:
            raise EditError(f"{self.op} at {self.path!r} does not apply: {exc}") from None
        if check:
            try:
                parse(ast.unparse(out))
            except ProgramSyntaxError as exc:
                raise EditError(f"{self.op} at {self.path!r} gives invalid Python: {exc}") from None
            except (SyntaxError, ValueError, RecursionError) as exc:
                raise EditError(f"{self.op} at {self.path!r} gives invalid Python: {exc}") from None
        return out

    def to_json(self) -> dict:
        """``{"op", "path" (list), "index", "new"}``: JSON-serialisable."""
        return {"op": self.op, "path": list(self.path), "index": self.index, "new": self.new}

    @classmethod
    def from_json(cls, d: dict) -> "Edit":
        """Inverse of :meth:`to_json`. Raises EditError on malformed input."""
        if not isinstance(d, dict) or "op" not in d or "path" not in d:
            raise EditError(f"edit JSON needs 'op' and 'path', got {d!r}")
        path = d["path"]
        if not isinstance(path, (list, tuple)) or not all(
            isinstance(s, str) or (isinstance(s, int) and not isinstance(s, bool)) for s in path
        ):
            raise EditError(f"edit path must be a list of field names and indices, got {path!r}")
        return cls(op=d["op"], path=tuple(path), index=d.get("index"), new=d.get("new"))


def _as_tree(x: ast.AST | str) -> ast.AST:
    return parse(x) if isinstance(x, str) else x


def apply_edits(tree: ast.AST | str, edits: Iterable[Edit], check: bool = True) -> ast.Module:
    """Apply ``edits`` in order to a copy of ``tree`` (a tree or source text). Raises EditError."""
    out = _as_tree(tree)
    edits = list(edits)
    if not edits:
        return copy.deepcopy(out)
    for i, edit in enumerate(edits):
        out = edit.apply(out, check=check and i == len(edits) - 1)
    return out


def tree_diff(a: ast.AST | str, b: ast.AST | str) -> list[Edit]:
    """Edits turning ``a`` into ``b`` (trees or source text), in application order.

    ``unparse(apply_edits(a, tree_diff(a, b))) == unparse(b)``; ``tree_diff(a, a) == []``.
    Raises ProgramSyntaxError for unparsable source text.
    """
    ta, tb = _as_tree(a), _as_tree(b)
    edits = _diff_node(ta, tb, ())
    if edits is None:  # only possible if the roots themselves differ in kind
        raise EditError(f"cannot express the difference between {type(ta).__name__} and {type(tb).__name__}")
    return edits


def _scalar_eq(x: object, y: object) -> bool:
    if type(x) is not type(y):
        return False
    if isinstance(x, (float, complex)):
        return repr(x) == repr(y)
    return x == y


def _is_stmt_list(field: str, va: list, vb: list) -> bool:
    return field in _STMT_LIST_FIELDS and all(isinstance(s, ast.stmt) for s in va + vb)


def _replace(a: ast.AST, b: ast.AST, path: Path) -> list[Edit] | None:
    ka, kb = fragment_kind(a), fragment_kind(b)
    if ka is None or ka != kb or not path:
        return None
    if ka == "operator":
        try:
            if type(parse_fragment(node_source(b), a)) is not type(b):
                return None
        except ProgramSyntaxError:
            return None
        return [Edit("replace", path, new=node_source(b))]
    if not roundtrips(b) or not roundtrips(a):
        return None
    return [Edit("replace", path, new=node_source(b))]


def _diff_node(a: ast.AST, b: ast.AST, path: Path) -> list[Edit] | None:
    """Edits for a -> b at ``path``, or None when the parent must replace itself."""
    if type(a) is type(b) and not isinstance(a, _ATOMIC):
        edits: list[Edit] = []
        ok = True
        for field in a._fields:
            va, vb = getattr(a, field, None), getattr(b, field, None)
            if isinstance(va, ast.expr_context):
                continue
            if isinstance(va, ast.AST) and isinstance(vb, ast.AST):
                sub = _diff_node(va, vb, path + (field,))
            elif isinstance(va, list) and isinstance(vb, list):
                if _is_stmt_list(field, va, vb):
                    sub = _diff_stmt_list(va, vb, path + (field,))
                else:
                    sub = _diff_fixed_list(va, vb, path + (field,))
            else:
                sub = [] if _scalar_eq(va, vb) else None
            if sub is None:
                ok = False
                break
            edits.extend(sub)
        if ok:
            return edits
    elif dump(a) == dump(b):
        return []
    return _replace(a, b, path)


def _diff_fixed_list(va: list, vb: list, lpath: Path) -> list[Edit] | None:
    if len(va) != len(vb):
        return None
    edits: list[Edit] = []
    for i in reversed(range(len(va))):
        x, y = va[i], vb[i]
        if isinstance(x, ast.AST) and isinstance(y, ast.AST):
            sub = _diff_node(x, y, lpath + (i,))
        else:
            sub = [] if _scalar_eq(x, y) else None
        if sub is None:
            return None
        edits.extend(sub)
    return edits


def _diff_stmt_list(va: list, vb: list, lpath: Path) -> list[Edit]:
    ka = [dump(s) for s in va]
    kb = [dump(s) for s in vb]
    edits: list[Edit] = []
    opcodes = difflib.SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in reversed(opcodes):
        if tag == "equal":
            continue
        n, m = i2 - i1, j2 - j1
        k = min(n, m)
        # Unpaired extras first (they sit at the higher indices of this block).
        for i in reversed(range(i1 + k, i2)):
            edits.append(Edit("delete", lpath + (i,)))
        for j in range(j1 + k, j2):
            edits.append(Edit("insert", lpath, index=i1 + (j - j1), new=node_source(vb[j])))
        for t in reversed(range(k)):
            i, j = i1 + t, j1 + t
            sub = _diff_node(va[i], vb[j], lpath + (i,))
            if sub is None:  # not expressible as a replacement: insert the new, drop the old
                sub = [Edit("insert", lpath, index=i, new=node_source(vb[j])), Edit("delete", lpath + (i + 1,))]
            edits.extend(sub)
    return edits
