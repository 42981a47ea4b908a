"""A program's syntax tree as a graph for the graph denoiser: torch_geometric ``Data``.

Nodes are the AST nodes of :func:`kelp.program.tree.iter_nodes` (pre-order; expression contexts
skipped, operators included). Each node carries its type, its token (token-bearing nodes, see
:mod:`kelp.corrupt.token_noise`; ``<none>`` for the others), the previous iteration's token, its
parent's type, its depth, its index in its parent's field, the denoising iteration and the test
signal (suspiciousness of its source line, e.g. from coverage-based fault localisation: Jones &
Harrold 2005, "Empirical evaluation of the Tarantula automatic fault-localization technique").

Edges (types in :data:`EDGE_TYPES`, ids in :class:`GraphVocab`): parent -> child and
child -> parent; next/previous sibling (consecutive children of a node, within a field list and
across consecutive fields); next/previous use of the same identifier (``ast.Name`` and
``ast.arg`` tokens, in source order, within the same function scope: the nearest enclosing
``def``/``lambda``, or the module; class bodies belong to their enclosing scope; defaults and
decorators to the function they decorate). The data-flow style edges follow Allamanis et al.
2018, "Learning to Represent Programs with Graphs" (arXiv:1711.00740).

Identifiers and constants are predicted by *pointing* (Vinyals et al. 2015, "Pointer Networks";
Allamanis et al. 2018 use the same trick for variable misuse): every graph has a list of
candidate tokens - candidate 0 is the null candidate ``<none>`` (group ``"any"``), then the
program's own identifiers, attribute names and constants, then the vocabulary's most frequent
ones, then every operator - each in a *pointer group* (:data:`GROUPS`): a slot may only point at
candidates of its own group (identifiers for names and parameters, attributes, constants, and
one group per operator category). Masks are never candidates. :func:`targets` maps wanted tokens
to candidate indices; a token that is not a candidate maps to the null candidate 0 (not -1,
which would not survive batching: indices are offset by the candidate count per graph).

Batching with ``torch_geometric.loader.DataLoader`` works (see :class:`ProgramGraph`).
"""

from __future__ import annotations

import ast
import json
import math
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

import torch
from torch_geometric.data import Batch, Data

from kelp.corrupt.token_noise import (
    TokenSlot,
    category_symbols,
    is_mask,
    op_category,
    token_nodes,
)
from kelp.program.spans import line_at
from kelp.program.tree import (
    OPERATOR_SYMBOLS,
    Path,
    ProgramError,
    ProgramSyntaxError,
    iter_nodes,
    node_at,
    parse,
)

__all__ = [
    "SPECIAL_TOKENS",
    "SPECIAL_TYPES",
    "EDGE_TYPES",
    "GROUPS",
    "MAX_DEPTH",
    "MAX_SIBLING",
    "MAX_ITERATION",
    "GraphError",
    "GraphVocab",
    "ProgramGraph",
    "slot_group",
    "program_graph",
    "targets",
]

#: Special tokens, ids 0..3 of every :class:`GraphVocab`.
SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<unk>", "<mask>", "<none>")
#: Special node types, ids 0..2 (``<none>`` is the root's parent type).
SPECIAL_TYPES: tuple[str, ...] = ("<pad>", "<unk>", "<none>")
#: Edge types, in id order.
EDGE_TYPES: tuple[str, ...] = ("child", "parent", "next_sibling", "prev_sibling", "next_use", "prev_use")
#: Pointer groups, in id order. ``"any"`` is the null candidate's group.
GROUPS: tuple[str, ...] = ("any", "ident", "attr", "const", "binop", "boolop", "unaryop", "cmpop")
#: Clipping bounds of ``x_depth``, ``x_sibling`` and ``x_iteration`` (embedding sizes are bound + 1).
MAX_DEPTH = 31
MAX_SIBLING = 31
MAX_ITERATION = 15

_KIND_GROUP = {"name": "ident", "arg": "ident", "attr": "attr", "const": "const"}
_VOCAB_GROUPS = ("ident", "attr", "const")
_FORMAT = "kelp.graph_vocab/1"
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


class GraphError(ProgramError):
    """Inputs that cannot make a program graph (wrong lengths, bad signal values, malformed
    vocabulary JSON). A ValueError."""


def _ast_type_names() -> list[str]:
    """Every ``ast.AST`` subclass name in the running Python's ``ast`` module, sorted."""
    names = set()
    with warnings.catch_warnings():  # deprecated aliases (ast.Num, ...) warn on access
        warnings.simplefilter("ignore")
        for name in dir(ast):
            obj = getattr(ast, name, None)
            if isinstance(obj, type) and issubclass(obj, ast.AST):
                names.add(obj.__name__)
    return sorted(names)


def _operator_symbols() -> list[str]:
    return list(dict.fromkeys(OPERATOR_SYMBOLS.values()))


@dataclass
class GraphVocab:
    """Ids of node types, tokens and edge types; JSON-serialisable (:meth:`to_json`).

    ``node_types``: :data:`SPECIAL_TYPES` then every ``ast`` class name; ``tokens``:
    :data:`SPECIAL_TOKENS`, every operator symbol, then corpus tokens by frequency;
    ``edge_types``: :data:`EDGE_TYPES`; ``frequent``: per pointer group (``"ident"``,
    ``"attr"``, ``"const"``) the corpus's most frequent tokens, most frequent first (the shared
    candidates of every graph). Unknown types/tokens map to ``<unk>``.
    """

    node_types: list[str]
    tokens: list[str]
    edge_types: list[str] = field(default_factory=lambda: list(EDGE_TYPES))
    frequent: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if list(self.tokens[: len(SPECIAL_TOKENS)]) != list(SPECIAL_TOKENS):
            raise GraphError(f"tokens must start with {SPECIAL_TOKENS}")
        if list(self.node_types[: len(SPECIAL_TYPES)]) != list(SPECIAL_TYPES):
            raise GraphError(f"node_types must start with {SPECIAL_TYPES}")
        if list(self.edge_types) != list(EDGE_TYPES):
            raise GraphError(f"edge_types must be {EDGE_TYPES}, got {self.edge_types}")
        for name, items in (("node_types", self.node_types), ("tokens", self.tokens)):
            if len(set(items)) != len(items):
                raise GraphError(f"{name} has duplicates")
        unknown = set(self.frequent) - set(_VOCAB_GROUPS)
        if unknown:
            raise GraphError(f"frequent has unknown groups {sorted(unknown)}; use {_VOCAB_GROUPS}")
        self._type_ids = {t: i for i, t in enumerate(self.node_types)}
        self._token_ids = {t: i for i, t in enumerate(self.tokens)}
        self._edge_ids = {t: i for i, t in enumerate(self.edge_types)}

    @property
    def pad_id(self) -> int:
        """Id of ``<pad>`` (tokens and node types)."""
        return 0

    @property
    def unk_id(self) -> int:
        """Id of ``<unk>`` (tokens and node types)."""
        return 1

    @property
    def mask_id(self) -> int:
        """Token id of ``<mask>``."""
        return 2

    @property
    def none_id(self) -> int:
        """Token id of ``<none>`` (non-token nodes, the null candidate)."""
        return 3

    def type_id(self, name: str) -> int:
        """Id of a node type name (``"Name"``, ``"BinOp"``, or a special); ``<unk>`` if unknown."""
        return self._type_ids.get(name, 1)

    def token_id(self, token: str) -> int:
        """Id of a token text; ``<unk>`` (1) if unknown."""
        return self._token_ids.get(token, 1)

    def edge_id(self, name: str) -> int:
        """Id of an edge type name; raises GraphError if unknown."""
        try:
            return self._edge_ids[name]
        except KeyError:
            raise GraphError(f"unknown edge type {name!r}; use one of {self.edge_types}") from None

    @classmethod
    def build(
        cls,
        sources: Iterable[str | ast.Module],
        max_tokens: int = 2000,
        min_count: int = 2,
        frequent_per_group: int = 64,
    ) -> GraphVocab:
        """A vocabulary from a corpus of programs (source texts or ``ast.Module`` trees).

        Keeps at most ``max_tokens`` corpus tokens (besides specials and operators) seen at least
        ``min_count`` times, most frequent first (ties by text); ``frequent[group]`` keeps the
        ``frequent_per_group`` most frequent of each group among them. Sources that do not
        parse are skipped; masks are never counted. Deterministic.
        """
        if max_tokens < 0 or min_count < 1 or frequent_per_group < 0:
            raise GraphError("max_tokens and frequent_per_group must be >= 0 and min_count >= 1")
        total: Counter[str] = Counter()
        per_group: dict[str, Counter[str]] = {g: Counter() for g in _VOCAB_GROUPS}
        for src in sources:
            try:
                tree = parse(src) if isinstance(src, str) else src
            except ProgramSyntaxError:
                continue
            for slot in token_nodes(tree):
                if slot.kind == "op" or is_mask(slot.kind, slot.token):
                    continue
                total[slot.token] += 1
                per_group[_KIND_GROUP[slot.kind]][slot.token] += 1

        def ranked(counter: Counter[str]) -> list[str]:
            return [t for t, c in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count]

        tokens = list(SPECIAL_TOKENS) + _operator_symbols()
        kept = [t for t in ranked(total) if t not in tokens][:max_tokens]
        tokens += kept
        keep = set(tokens)
        frequent = {g: [t for t in ranked(c) if t in keep][:frequent_per_group] for g, c in per_group.items()}
        return cls(list(SPECIAL_TYPES) + _ast_type_names(), tokens, list(EDGE_TYPES), frequent)

    def to_json(self) -> str:
        """The vocabulary as JSON text (no pickle); :meth:`from_json` reads it back."""
        return json.dumps({
            "format": _FORMAT, "node_types": self.node_types, "tokens": self.tokens,
            "edge_types": self.edge_types, "frequent": self.frequent,
        }, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> GraphVocab:
        """Read :meth:`to_json` output. Raises GraphError for malformed JSON or fields."""
        try:
            doc = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise GraphError(f"graph vocabulary is not valid JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise GraphError(f"not a graph vocabulary document (expected format {_FORMAT!r})")
        try:
            node_types, tokens, edge_types, frequent = (
                doc["node_types"], doc["tokens"], doc["edge_types"], doc["frequent"])
        except KeyError as exc:
            raise GraphError(f"graph vocabulary lacks field {exc.args[0]!r}") from None
        lists = [node_types, tokens, edge_types, *(frequent.values() if isinstance(frequent, dict) else [None])]
        if not isinstance(frequent, dict) or not all(
                isinstance(x, list) and all(isinstance(t, str) for t in x) for x in lists):
            raise GraphError("graph vocabulary fields must be lists of strings (frequent: a dict of them)")
        return cls(node_types, tokens, edge_types, frequent)


class ProgramGraph(Data):
    """A program graph (``torch_geometric.data.Data``); fields are listed in :func:`program_graph`.

    Batching offsets ``edge_index`` and ``slot_node`` by the number of nodes, ``slot_cand``,
    ``slot_target`` by the number of candidates, and ``cand_batch`` (all zeros in one graph) by
    one, so in a batch ``cand_batch[c]`` is the graph of candidate ``c`` (as ``batch`` is for
    nodes) and ``batch[slot_node]`` the graph of each slot. ``cand_text`` becomes a list of lists.
    """

    def __inc__(self, key: str, value, *args, **kwargs):
        if key == "slot_node":
            return self.num_nodes
        if key in ("slot_cand", "slot_target"):
            return int(self.cand_token.size(0))
        if key == "cand_batch":
            return 1
        return super().__inc__(key, value, *args, **kwargs)


def slot_group(tree: ast.AST, slot: TokenSlot) -> str:
    """The pointer group (one of :data:`GROUPS`) of a token slot of ``tree``."""
    if slot.kind == "op":
        return op_category(node_at(tree, slot.path))
    return _KIND_GROUP[slot.kind]


def _parent(path: Path) -> Path:
    return path[:-2] if isinstance(path[-1], int) else path[:-1]


def program_graph(
    tree: ast.Module | str,
    vocab: GraphVocab,
    previous_tokens: list[str] | None = None,
    iteration: int = 0,
    signal: dict[int, float] | None = None,
    *,
    target_tokens: list[str] | None = None,
    vocab_candidates: int = 16,
) -> ProgramGraph:
    """The graph of a (possibly noised) program.

    ``tree``: an ``ast.Module`` or source text; ``previous_tokens``: the previous iteration's
    token of every slot (aligned with ``token_nodes(tree)``); ``iteration``: the denoising step
    (clipped to :data:`MAX_ITERATION`); ``signal``: 1-based line -> suspiciousness in [0, 1]
    (a node takes its line's value, see :func:`kelp.program.spans.line_at`; 0 otherwise);
    ``target_tokens``: when given, stores ``slot_target = targets(graph, target_tokens)``;
    ``vocab_candidates``: how many of ``vocab.frequent[group]`` join each group's candidates.

    Fields (N nodes, E edges, S slots, C candidates; all ``long`` unless noted):
    ``x_type`` (N,), ``x_token`` (N,) (``<mask>`` for masked slots, ``<none>`` for non-token
    nodes, ``<unk>`` for unknown tokens), ``x_prev`` (N,) (= ``x_token`` without
    ``previous_tokens``), ``x_parent_type`` (N,) (``<none>`` for the root), ``x_depth`` (N,)
    (root 0, clipped to :data:`MAX_DEPTH`), ``x_sibling`` (N,) (index in the parent's list
    field, 0 for a single-node field, clipped to :data:`MAX_SIBLING`), ``x_iteration`` (N,),
    ``x_signal`` (N,) float, ``edge_index`` (2, E), ``edge_type`` (E,), ``token_mask`` (N,)
    bool, ``slot_node`` (S,) (node of each slot, in ``token_nodes`` order), ``slot_group``
    (S,) (id in :data:`GROUPS`), ``slot_cand`` (S,) (candidate of the slot's current token;
    0 when masked), ``cand_token`` (C,) (token ids), ``cand_group`` (C,), ``cand_batch`` (C,)
    (zeros), ``cand_text`` (list of C token texts; candidate 0 is ``"<none>"``) and
    ``num_nodes``.

    Raises ProgramSyntaxError for unparsable source, GraphError (a ValueError) for a
    non-Module tree, a ``previous_tokens``/``target_tokens`` length other than S, a negative
    ``iteration`` or signal values outside [0, 1].
    """
    tree = _checked_tree(tree, iteration, vocab_candidates, signal)
    signal = signal or {}
    nodes = list(iter_nodes(tree))
    index = {path: i for i, (path, _) in enumerate(nodes)}
    n = len(nodes)
    parent, depth, scope, children = _structure(nodes, index)
    slots = token_nodes(tree)
    if previous_tokens is not None and len(previous_tokens) != len(slots):
        raise GraphError(f"previous_tokens has {len(previous_tokens)} entries for {len(slots)} slots")
    slot_node = [index[s.path] for s in slots]
    groups = [slot_group(tree, s) for s in slots]
    cands = _candidates(slots, groups, vocab, vocab_candidates)

    def tok_id(slot: TokenSlot, token: str) -> int:
        return vocab.mask_id if is_mask(slot.kind, token) else vocab.token_id(token)

    x_token = [vocab.none_id] * n
    x_prev = [vocab.none_id] * n
    prev = previous_tokens if previous_tokens is not None else [s.token for s in slots]
    for s, i, ptok in zip(slots, slot_node, prev):
        x_token[i] = tok_id(s, s.token)
        x_prev[i] = tok_id(s, ptok)
    token_mask = [False] * n
    for i in slot_node:
        token_mask[i] = True
    src, dst, etype = _edges(nodes, parent, children, scope, slots, slot_node, vocab)

    long = torch.long
    graph = ProgramGraph(
        x_type=torch.tensor([vocab.type_id(type(nd).__name__) for _, nd in nodes], dtype=long),
        x_token=torch.tensor(x_token, dtype=long),
        x_prev=torch.tensor(x_prev, dtype=long),
        x_parent_type=torch.tensor(
            [vocab.type_id("<none>") if parent[i] < 0 else vocab.type_id(type(nodes[parent[i]][1]).__name__)
             for i in range(n)], dtype=long),
        x_depth=torch.tensor([min(d, MAX_DEPTH) for d in depth], dtype=long),
        x_sibling=torch.tensor(
            [min(p[-1], MAX_SIBLING) if p and isinstance(p[-1], int) else 0 for p, _ in nodes], dtype=long),
        x_iteration=torch.full((n,), min(iteration, MAX_ITERATION), dtype=long),
        x_signal=torch.tensor([float(signal.get(line_at(tree, p), 0.0)) for p, _ in nodes], dtype=torch.float),
        edge_index=torch.tensor([src, dst], dtype=long).reshape(2, -1),
        edge_type=torch.tensor(etype, dtype=long),
        token_mask=torch.tensor(token_mask, dtype=torch.bool),
        slot_node=torch.tensor(slot_node, dtype=long),
        slot_group=torch.tensor([GROUPS.index(g) for g in groups], dtype=long),
        slot_cand=torch.tensor(
            [0 if is_mask(s.kind, s.token) else cands[(g, s.token)] for s, g in zip(slots, groups)], dtype=long),
        cand_token=torch.tensor(
            [vocab.none_id if g == "any" else vocab.token_id(t) for g, t in cands], dtype=long),
        cand_group=torch.tensor([GROUPS.index(g) for g, _ in cands], dtype=long),
        cand_batch=torch.zeros(len(cands), dtype=long),
        cand_text=[t for _, t in cands],
        num_nodes=n,
    )
    if target_tokens is not None:
        graph.slot_target = targets(graph, target_tokens)
    return graph


def _checked_tree(tree: ast.Module | str, iteration: int, vocab_candidates: int,
                  signal: dict[int, float] | None) -> ast.Module:
    """``tree`` parsed if it is text, after checking :func:`program_graph`'s arguments (raises
    ProgramSyntaxError or GraphError as documented there)."""
    if isinstance(tree, str):
        tree = parse(tree)
    if not isinstance(tree, ast.Module):
        raise GraphError(f"expected an ast.Module or source text, got {type(tree).__name__}")
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise GraphError(f"iteration must be an int >= 0, got {iteration!r}")
    if vocab_candidates < 0:
        raise GraphError(f"vocab_candidates must be >= 0, got {vocab_candidates}")
    for line, value in (signal or {}).items():
        if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise GraphError(f"signal of line {line!r} must be in [0, 1], got {value!r}")
    return tree


def _structure(nodes: list, index: dict) -> tuple[list[int], list[int], list[int], list[list[int]]]:
    """Per node (in ``iter_nodes`` order): parent index (-1 for the root), depth, innermost
    enclosing function-like node (0 = the module) and the list of children."""
    n = len(nodes)
    parent, depth, scope = [-1] * n, [0] * n, [0] * n
    children: list[list[int]] = [[] for _ in range(n)]
    for i, (path, _) in enumerate(nodes):
        if path:
            p = index[_parent(path)]
            parent[i], depth[i] = p, depth[p] + 1
            children[p].append(i)
            scope[i] = p if isinstance(nodes[p][1], _SCOPES) else scope[p]
    return parent, depth, scope, children


def _candidates(slots: list[TokenSlot], groups: list[str], vocab: GraphVocab,
                vocab_candidates: int) -> dict[tuple[str, str], int]:
    """Candidate ``(group, token text) -> index``: the null candidate, the program's own
    tokens, the ``vocab_candidates`` most frequent vocabulary tokens per group, operators."""
    cands: dict[tuple[str, str], int] = {("any", "<none>"): 0}
    for s, g in zip(slots, groups):
        if s.kind != "op" and not is_mask(s.kind, s.token):
            cands.setdefault((g, s.token), len(cands))
    for g in _VOCAB_GROUPS:
        for tok in vocab.frequent.get(g, [])[:vocab_candidates]:
            cands.setdefault((g, tok), len(cands))
    for g in GROUPS[4:]:
        for tok in category_symbols(g):
            cands.setdefault((g, tok), len(cands))
    return cands


def _edges(nodes: list, parent: list[int], children: list[list[int]], scope: list[int],
           slots: list[TokenSlot], slot_node: list[int], vocab: GraphVocab) -> tuple[list[int], list[int], list[int]]:
    """Typed edges as ``(sources, targets, edge type ids)``: child/parent, next/prev sibling,
    and next/prev use of the same name within one scope (in source order)."""
    src: list[int] = []
    dst: list[int] = []
    etype: list[int] = []

    def add(a: int, b: int, name: str) -> None:
        src.append(a)
        dst.append(b)
        etype.append(vocab.edge_id(name))

    for i in range(1, len(nodes)):
        add(parent[i], i, "child")
        add(i, parent[i], "parent")
    for kids in children:
        for a, b in pairwise(kids):
            add(a, b, "next_sibling")
            add(b, a, "prev_sibling")
    uses: dict[tuple[int, str], list[tuple[int, int, int]]] = {}
    for s, i in zip(slots, slot_node):
        if s.kind in ("name", "arg") and not is_mask(s.kind, s.token):
            node = nodes[i][1]
            key = (getattr(node, "lineno", None) or 0, getattr(node, "col_offset", None) or 0, i)
            uses.setdefault((scope[i], s.token), []).append(key)
    for chain in uses.values():
        chain.sort()
        for (_, _, a), (_, _, b) in pairwise(chain):
            add(a, b, "next_use")
            add(b, a, "prev_use")
    return src, dst, etype


def targets(graph: ProgramGraph, tokens: list[str]) -> torch.Tensor:
    """(S,) long: for each slot of ``graph`` (one graph, not a batch), the index of the candidate
    of the slot's group whose text is ``tokens[i]``; 0 (the null candidate) when there is none
    (e.g. an identifier neither in the noisy program nor among the vocabulary candidates).
    Raises GraphError for a batch or a length other than S."""
    if isinstance(graph, Batch):
        raise GraphError("targets() takes one graph; compute targets before batching")
    s_count = int(graph.slot_node.size(0))
    if len(tokens) != s_count:
        raise GraphError(f"{len(tokens)} target tokens for {s_count} slots")
    lookup = {(int(g), t): i for i, (g, t) in enumerate(zip(graph.cand_group.tolist(), graph.cand_text))}
    return torch.tensor(
        [lookup.get((g, t), 0) for g, t in zip(graph.slot_group.tolist(), tokens)], dtype=torch.long)
