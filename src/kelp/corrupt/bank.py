"""SubtreeBank: fragments of real programs, by node type, for subtree-swap noise.

A bank swap replaces a subtree by a fragment of the same node type taken from other
programs (Kelp tree diffusion's bank corruption): harsher than the realistic families,
it teaches a denoiser to undo arbitrary local rewrites. Fragments are normalised source
text (``node_source``) of statements and expressions that parse back to the same node
standalone. JSON is the only storage format. Randomness only through a caller's rng.
"""

from __future__ import annotations

import ast
import json
import random
from pathlib import Path as FsPath
from typing import Iterable

from kelp.corrupt.errors import BankError
from kelp.program.fragment import fragment_kind, roundtrips
from kelp.program.tree import ProgramSyntaxError, is_docstring, iter_nodes, node_source, parse

__all__ = ["SubtreeBank"]

_FORMAT = "kelp.subtree_bank"
_VERSION = 1
_EXCLUDED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)


def _size(node: ast.AST, limit: int) -> int:
    """Number of nodes (contexts excluded) in ``node``, counting stops past ``limit``."""
    n = 0
    for _ in iter_nodes(node):
        n += 1
        if n > limit:
            break
    return n


class SubtreeBank:
    """Fragments by node type name, e.g. ``{"Compare": ["a < b", ...], "Assign": [...]}``.

    Order within a type is first-seen order; everything is deterministic.
    """

    def __init__(self, fragments: dict[str, list[str]] | None = None):
        self._frags: dict[str, list[str]] = {k: list(v) for k, v in (fragments or {}).items() if v}

    @classmethod
    def from_sources(cls, sources: Iterable[str], max_per_type: int = 2000, max_nodes: int = 30) -> "SubtreeBank":
        """Collect statement and expression fragments of at most ``max_nodes`` AST nodes from
        ``sources`` (unparsable ones are skipped), at most ``max_per_type`` per node type,
        deduplicated, in first-seen order. Defs, classes, docstrings, f-string pieces and
        fragments that are not standalone-parseable (slices, starred) are left out.
        Raises BankError for non-positive limits."""
        if max_per_type < 1 or max_nodes < 1:
            raise BankError(f"max_per_type and max_nodes must be positive, got {max_per_type}, {max_nodes}")
        frags: dict[str, dict[str, None]] = {}
        for source in sources:
            try:
                tree = parse(source)
            except ProgramSyntaxError:
                continue
            skip: list[tuple] = []
            for path, node in iter_nodes(tree):
                if skip and any(path[: len(s)] == s for s in skip):
                    continue
                if isinstance(node, ast.JoinedStr):
                    skip.append(path)
                if fragment_kind(node) not in ("stmt", "expr") or isinstance(node, _EXCLUDED):
                    continue
                tname = type(node).__name__
                bucket = frags.setdefault(tname, {})
                if len(bucket) >= max_per_type or _size(node, max_nodes) > max_nodes:
                    continue
                if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                    skip.append(path)  # docstrings and other bare string statements
                    continue
                if isinstance(node, ast.Constant) and is_docstring(tree, path):
                    continue
                text = node_source(node)
                if text in bucket or not roundtrips(node):
                    continue
                bucket[text] = None
        return cls({k: list(v) for k, v in frags.items()})

    def has_type(self, node_type: str) -> bool:
        """True when the bank holds fragments of ``node_type`` (e.g. "Compare")."""
        return node_type in self._frags

    def types(self) -> list[str]:
        """Node type names held, in first-seen order."""
        return list(self._frags)

    def fragments(self, node_type: str) -> list[str]:
        """A copy of the fragments of ``node_type`` (empty if none)."""
        return list(self._frags.get(node_type, ()))

    def sample(self, node_type: str, rng: random.Random, exclude: str | None = None) -> str | None:
        """A uniformly drawn fragment of ``node_type`` other than ``exclude``; None if there is none."""
        items = self._frags.get(node_type)
        if not items:
            return None
        n = len(items)
        i = rng.randrange(n)
        if items[i] != exclude:
            return items[i]
        if n == 1:
            return None
        return items[(i + 1 + rng.randrange(n - 1)) % n]

    def __len__(self) -> int:
        return sum(len(v) for v in self._frags.values())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SubtreeBank) and self._frags == other._frags

    def __repr__(self) -> str:
        return f"SubtreeBank({len(self)} fragments, {len(self._frags)} types)"

    def to_json(self) -> dict:
        """``{"format": "kelp.subtree_bank", "version": 1, "fragments": {type: [source, ...]}}``."""
        return {"format": _FORMAT, "version": _VERSION, "fragments": {k: list(v) for k, v in self._frags.items()}}

    @classmethod
    def from_json(cls, d: dict) -> "SubtreeBank":
        """Inverse of :meth:`to_json`. Raises BankError on a document of another shape."""
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise BankError(f"not a SubtreeBank document (expected format {_FORMAT!r})")
        if d.get("version") != _VERSION:
            raise BankError(f"unsupported SubtreeBank version {d.get('version')!r} (expected {_VERSION})")
        frags = d.get("fragments")
        if not isinstance(frags, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(s, str) for s in v) for k, v in frags.items()
        ):
            raise BankError("SubtreeBank 'fragments' must map node type names to lists of source strings")
        return cls(frags)

    def save(self, path: str | FsPath) -> None:
        """Write the bank as UTF-8 JSON to ``path``. Raises BankError if it cannot be written."""
        try:
            FsPath(path).write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")
        except OSError as exc:
            raise BankError(f"cannot write SubtreeBank to {path}: {exc}") from None

    @classmethod
    def load(cls, path: str | FsPath) -> "SubtreeBank":
        """Read a bank written by :meth:`save`. Raises BankError if missing or malformed."""
        try:
            d = json.loads(FsPath(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise BankError(f"cannot read SubtreeBank from {path}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise BankError(f"{path} is not valid JSON: {exc}") from None
        return cls.from_json(d)
