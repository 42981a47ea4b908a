"""Token-level noise for the AST graph denoiser.

A program's *token slots* are its token-bearing nodes: identifiers (``ast.Name.id``),
attribute names (``ast.Attribute.attr``), parameters (``ast.arg.arg``), literal constants
(``ast.Constant`` holding an int, float, str, bool or None) and operators (``ast.operator``,
``ast.boolop``, ``ast.unaryop``, ``ast.cmpop``). :func:`noise` replaces a fraction of them with
another token of the same kind, or with a mask, and keeps the tree's shape, so every noised
program unparses to valid Python whose re-parsed tree has the same slots (paths and kinds).
This is the discrete "absorbing/uniform" corruption of D3PM (Austin et al. 2021, "Structured
Denoising Diffusion Models in Discrete State-Spaces", arXiv:2107.03006), applied to AST leaves
instead of text tokens.

Canonical token text (``TokenSlot.token``):

* ``"name"`` / ``"attr"`` / ``"arg"``: the identifier, e.g. ``"x"``, ``"append"``.
* ``"const"``: ``repr(value)``, e.g. ``"3"``, ``"1.5"``, ``"'a'"``, ``"True"``, ``"None"``.
* ``"op"``: the symbol of :data:`kelp.program.tree.OPERATOR_SYMBOLS`, e.g. ``"+"``, ``"not in"``.
  ``"+"``/``"-"`` are both binary and unary; the node's category (see :func:`op_category`)
  tells them apart, and an operator is only ever replaced by one of its own category
  (binary among binary, comparison among comparison, ...).

Masks keep the node type, so masking never changes the tree's shape: identifiers (names,
attributes, parameters) are masked by the identifier ``__mask__`` (:data:`MASK`), constants by
the string constant ``'__mask__'`` (:data:`CONST_MASK`). Operators have no mask.

Constants that are not slots (so that unparse -> parse keeps every slot): docstrings and any
constant at a docstring position (first statement of a module/class/function body, which a
string replacement would turn into a docstring), everything inside an f-string (``ast.JoinedStr``:
neither its literal pieces nor the names in its ``{...}`` fields), constants of ``case``
value patterns (``case None`` would re-parse as another pattern node), and values whose
``repr`` does not re-parse as the same single constant (negative numbers built by hand, inf,
nan, ints too long to print). Keyword-argument names, function/class names and imported
names are plain strings in the AST, not slots.

Pure code: randomness only through the ``random.Random`` passed in.
"""

from __future__ import annotations

import ast
import copy
import keyword
import math
import random
from dataclasses import dataclass
from functools import lru_cache

from kelp.corrupt.errors import CorruptionError
from kelp.program.tree import (
    OPERATOR_SYMBOLS,
    Path,
    iter_nodes,
    node_at,
    parse,
    unparse,
)

__all__ = [
    "KINDS",
    "OP_CATEGORIES",
    "MASK",
    "CONST_MASK",
    "TokenSlot",
    "Noised",
    "token_nodes",
    "op_category",
    "category_symbols",
    "mask_token",
    "is_mask",
    "valid_token",
    "noise",
    "apply_tokens",
]

#: Slot kinds, in a fixed order.
KINDS: tuple[str, ...] = ("name", "attr", "const", "arg", "op")
#: Operator categories: an operator is only replaced within its category.
OP_CATEGORIES: tuple[str, ...] = ("binop", "boolop", "unaryop", "cmpop")
#: Mask of identifier slots (names, attributes, parameters).
MASK = "__mask__"
#: Mask of constant slots (the string constant ``'__mask__'``, token text with its quotes).
CONST_MASK = repr(MASK)

_CATEGORY_BASES: dict[str, type] = {
    "binop": ast.operator, "boolop": ast.boolop, "unaryop": ast.unaryop, "cmpop": ast.cmpop,
}
# category -> symbol -> operator class, symbols in OPERATOR_SYMBOLS order.
_SYMBOL_CLASS: dict[str, dict[str, type]] = {
    cat: {sym: cls for cls, sym in OPERATOR_SYMBOLS.items() if issubclass(cls, base)}
    for cat, base in _CATEGORY_BASES.items()
}
_CONST_TYPES = (int, float, str, bool, type(None))
_DOC_OWNERS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
# Identifiers never drawn as replacements (assigning them is a compile-time error).
_FORBIDDEN_IDENTIFIERS = frozenset({"__debug__"})


@dataclass(frozen=True)
class TokenSlot:
    """One token-bearing node: ``path`` from the module root, ``kind`` (one of :data:`KINDS`)
    and ``token``, its canonical text (see the module docstring)."""

    path: Path
    kind: str
    token: str


@dataclass
class Noised:
    """A noised program.

    ``tree``: the corrupted ``ast.Module`` (same shape as the original); ``source``: its
    normalised text (:func:`kelp.program.tree.unparse`); ``slots``: the ORIGINAL program's
    token slots (their paths and kinds are also the noisy tree's); ``corrupted``: sorted indices
    into ``slots`` of the changed slots; ``original`` / ``noisy``: token texts aligned with
    ``slots`` (``noisy[i] != original[i]`` exactly for ``i in corrupted``).
    """

    tree: ast.Module
    source: str
    slots: list[TokenSlot]
    corrupted: list[int]
    original: list[str]
    noisy: list[str]


def op_category(node: ast.AST) -> str:
    """``"binop"``, ``"boolop"``, ``"unaryop"`` or ``"cmpop"`` for an operator node (augmented
    assignments use binary operators). Raises CorruptionError for a non-operator node."""
    for cat, base in _CATEGORY_BASES.items():
        if isinstance(node, base):
            return cat
    raise CorruptionError(f"{type(node).__name__} is not an operator node")


def category_symbols(category: str) -> list[str]:
    """All operator symbols of ``category`` (e.g. ``["and", "or"]`` for ``"boolop"``), in a
    fixed order. Raises CorruptionError for an unknown category."""
    try:
        return list(_SYMBOL_CLASS[category])
    except KeyError:
        raise CorruptionError(f"unknown operator category {category!r}; use one of {OP_CATEGORIES}") from None


def mask_token(kind: str) -> str | None:
    """The mask of a slot kind: :data:`MASK`, :data:`CONST_MASK` for ``"const"``, None for ``"op"``."""
    if kind == "op":
        return None
    return CONST_MASK if kind == "const" else MASK


def is_mask(kind: str, token: str) -> bool:
    """True when ``token`` is the mask of slot kind ``kind``."""
    return token == mask_token(kind)


def _const_token(value: object) -> str | None:
    """Canonical token of a constant value, or None when the value is not a slot constant."""
    if type(value) not in _CONST_TYPES:
        return None
    if isinstance(value, float) and (not math.isfinite(value) or math.copysign(1.0, value) < 0):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return None
    try:
        return repr(value)
    except ValueError:  # int too long to convert to str
        return None


@lru_cache(maxsize=65536)
def _parse_const(token: str) -> tuple[bool, object]:
    """``(True, value)`` when ``token`` is the source of one slot constant, else ``(False, None)``."""
    try:
        node = ast.parse(token, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False, None
    if isinstance(node, ast.Constant) and _const_token(node.value) is not None:
        return True, node.value
    return False, None


def _identifier(token: str) -> bool:
    return isinstance(token, str) and token.isidentifier() and not keyword.iskeyword(token)


def valid_token(kind: str, token: str, category: str | None = None) -> bool:
    """True when ``token`` can be written into a slot of ``kind`` (and, for ``"op"``, of
    operator ``category``; any category when None). Constants accept any single literal
    (``'"a"'`` too); identifiers must be non-keyword identifiers."""
    if not isinstance(token, str):
        return False
    if kind == "op":
        cats = OP_CATEGORIES if category is None else (category,)
        return any(token in _SYMBOL_CLASS.get(c, {}) for c in cats)
    if kind == "const":
        return _parse_const(token)[0]
    if kind in ("name", "attr", "arg"):
        return _identifier(token)
    return False


def _doc_position(tree: ast.AST, path: Path) -> bool:
    """True for the value of a first-statement expression of a module/class/function body."""
    if len(path) < 3 or path[-1] != "value" or path[-2] != 0 or path[-3] != "body":
        return False
    owner = node_at(tree, path[:-3])
    return isinstance(owner, _DOC_OWNERS) and isinstance(node_at(tree, path[:-1]), ast.Expr)


def token_nodes(tree: ast.AST) -> list[TokenSlot]:
    """The token slots of ``tree`` in pre-order (the order of
    :func:`kelp.program.tree.iter_nodes`), with their canonical token text.

    Which nodes are slots is described in the module docstring. ``tree`` is normally an
    ``ast.Module``; paths are relative to it. Returns ``[]`` for a program without slots.
    """
    out: list[TokenSlot] = []
    skip: list[Path] = []  # f-string and case-value subtrees
    for path, node in iter_nodes(tree):
        if skip and any(path[: len(p)] == p for p in skip):
            continue
        if isinstance(node, (ast.JoinedStr, ast.MatchValue)):
            skip.append(path)
            continue
        if isinstance(node, ast.Name):
            out.append(TokenSlot(path, "name", node.id))
        elif isinstance(node, ast.Attribute):
            out.append(TokenSlot(path, "attr", node.attr))
        elif isinstance(node, ast.arg):
            out.append(TokenSlot(path, "arg", node.arg))
        elif isinstance(node, ast.Constant):
            tok = _const_token(node.value)
            if tok is not None and not _doc_position(tree, path):
                out.append(TokenSlot(path, "const", tok))
        elif isinstance(node, tuple(_CATEGORY_BASES.values())):
            out.append(TokenSlot(path, "op", OPERATOR_SYMBOLS[type(node)]))
    return out


def _arg_owner(path: Path) -> Path:
    """Path of the ``ast.arguments`` node that holds the parameter at ``path``."""
    return path[:-2] if isinstance(path[-1], int) else path[:-1]


def _write(tree: ast.AST, slot: TokenSlot, token: str) -> None:
    """Write ``token`` into ``slot`` of ``tree`` in place (replacing operator nodes)."""
    node = node_at(tree, slot.path)
    kind = slot.kind
    expected = {"name": ast.Name, "attr": ast.Attribute, "arg": ast.arg, "const": ast.Constant}
    if kind == "op":
        cat = op_category(node)
        cls = _SYMBOL_CLASS[cat].get(token)
        if cls is None:
            raise CorruptionError(
                f"{token!r} is not a {cat} operator (slot {slot.path!r}); use one of {category_symbols(cat)}")
        if type(node) is not cls:
            last = slot.path[-1]
            if isinstance(last, int):  # a comparison's ops list
                getattr(node_at(tree, slot.path[:-2]), slot.path[-2])[last] = cls()
            else:
                setattr(node_at(tree, slot.path[:-1]), last, cls())
        return
    if kind not in expected:
        raise CorruptionError(f"unknown slot kind {kind!r}; use one of {KINDS}")
    if not isinstance(node, expected[kind]):
        raise CorruptionError(
            f"slot {slot.path!r} of kind {kind!r} addresses a {type(node).__name__} node")
    if not valid_token(kind, token):
        raise CorruptionError(f"{token!r} is not a valid {kind} token (slot {slot.path!r})")
    if kind == "name":
        node.id = token
    elif kind == "attr":
        node.attr = token
    elif kind == "arg":
        node.arg = token
    else:
        value = _parse_const(token)[1]
        if type(node.value) is not type(value) or repr(node.value) != repr(value):
            node.value = value
            node.kind = None


def apply_tokens(tree: ast.AST, slots: list[TokenSlot], tokens: list[str]) -> ast.Module:
    """A NEW tree (deep copy of ``tree``) with ``tokens[i]`` written into ``slots[i]``.

    ``slots`` are addressed by path in ``tree`` (their ``token`` field is ignored); operator
    tokens are resolved within the category of the operator node found at the slot. Raises
    CorruptionError when the lengths differ, a slot's node does not match its kind, or a token
    is not valid for its slot (see :func:`valid_token`); PathError when a path is absent.
    """
    if len(slots) != len(tokens):
        raise CorruptionError(f"{len(tokens)} tokens for {len(slots)} slots")
    out = copy.deepcopy(tree)
    for slot, token in zip(slots, tokens):
        _write(out, slot, token)
    ast.fix_missing_locations(out)
    return out  # type: ignore[return-value]


def _pools(slots: list[TokenSlot], vocab: dict[str, list[str]] | None) -> dict[str, list[str]]:
    """Replacement pools per kind: the program's own tokens, then ``vocab``'s; valid, deduplicated."""
    pools: dict[str, dict[str, None]] = {k: {} for k in ("name", "attr", "const", "arg")}
    for s in slots:
        if s.kind in pools:
            pools[s.kind].setdefault(s.token, None)
    for kind, tokens in (vocab or {}).items():
        if kind not in pools:
            if kind == "op":
                continue  # operators always use their full category
            raise CorruptionError(f"unknown vocab kind {kind!r}; use some of {KINDS}")
        for tok in tokens:
            pools[kind].setdefault(tok, None)
    return {
        k: [t for t in v if valid_token(k, t) and not is_mask(k, t) and t not in _FORBIDDEN_IDENTIFIERS]
        for k, v in pools.items()
    }


def noise(
    source_or_tree: str | ast.Module,
    rate: float,
    rng: random.Random,
    mask_prob: float = 0.2,
    vocab: dict[str, list[str]] | None = None,
) -> Noised:
    """Corrupt exactly ``round(rate * len(slots))`` token slots (at least one when ``rate > 0``).

    Slots are visited in a random order; each gets, with probability ``mask_prob``, its kind's
    mask, otherwise a token drawn uniformly from the other tokens of its kind: the program's own
    (names, attributes, parameters or constants) plus ``vocab[kind]`` (a small shared
    vocabulary, ``{"name": [...], "const": ["0", "1", "''"], ...}``; invalid entries are
    ignored). When no alternative exists the mask is used. Operators are replaced by another
    operator of their category and never masked. A parameter is never given the name of
    another parameter of the same function (that would not compile). The new token always
    differs from the original. The input is not modified.

    Deterministic for a given ``rng`` state. Raises ProgramSyntaxError for unparsable source,
    CorruptionError for ``rate`` or ``mask_prob`` outside [0, 1], a program without token
    slots, or a ``vocab`` with an unknown kind.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
        raise CorruptionError(f"rate must be a number in [0, 1], got {rate!r}")
    if isinstance(mask_prob, bool) or not isinstance(mask_prob, (int, float)) or not 0.0 <= mask_prob <= 1.0:
        raise CorruptionError(f"mask_prob must be a number in [0, 1], got {mask_prob!r}")
    tree = parse(source_or_tree) if isinstance(source_or_tree, str) else source_or_tree
    if not isinstance(tree, ast.Module):
        raise CorruptionError(f"expected source text or an ast.Module, got {type(tree).__name__}")
    slots = token_nodes(tree)
    if not slots:
        raise CorruptionError("the program has no token slots (names, attributes, constants, "
                              "parameters or operators) to corrupt")
    n = len(slots)
    k = round(rate * n)
    if rate > 0:
        k = max(1, k)
    pools = _pools(slots, vocab)
    original = [s.token for s in slots]
    noisy = list(original)
    categories = {i: op_category(node_at(tree, s.path)) for i, s in enumerate(slots) if s.kind == "op"}
    owners: dict[int, Path] = {i: _arg_owner(s.path) for i, s in enumerate(slots) if s.kind == "arg"}
    siblings: dict[Path, list[int]] = {}
    for i, owner in owners.items():
        siblings.setdefault(owner, []).append(i)

    chosen: list[int] = []
    for i in rng.sample(range(n), n):
        if len(chosen) == k:
            break
        slot = slots[i]
        if slot.kind == "op":
            options = [t for t in category_symbols(categories[i]) if t != slot.token]
            token = rng.choice(options) if options else None
        else:
            taken = {noisy[j] for j in siblings.get(owners.get(i), ()) if j != i} if slot.kind == "arg" else set()
            mask = mask_token(slot.kind)
            mask_ok = mask != slot.token and mask not in taken
            options = [t for t in pools[slot.kind] if t != slot.token and t not in taken]
            if mask_ok and (not options or rng.random() < mask_prob):
                token = mask
            else:
                token = rng.choice(options) if options else None
        if token is None:
            continue  # nothing valid for this slot (e.g. a parameter without free names)
        noisy[i] = token
        chosen.append(i)
    if len(chosen) < k:
        raise CorruptionError(f"only {len(chosen)} of the {k} requested token slots could be corrupted")
    new_tree = apply_tokens(tree, slots, noisy)
    return Noised(new_tree, unparse(new_tree), slots, sorted(chosen), original, noisy)

