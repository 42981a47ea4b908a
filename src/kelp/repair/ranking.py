"""A learned ranker of the search's proposals: features of a proposed edit known before it runs,
and a gradient-boosted tree ensemble (trained with LightGBM's LambdaRank objective by
``kelp train ranker``) that scores them.

The idea is Prophet's (Long & Rinard 2016, "Automatic patch generation by learning correct
code"): learn from labelled patches which candidates of a generate-and-validate search are
correct, and try those first. Here the labels come from the search's own executions
(:mod:`kelp.train.search_data`), and the ranker orders the proposals of each state the search
expands. Anti-pattern features (deleting code, writing a test's expected constant into the
program) follow the analysis of plausible-but-wrong patches by Qi et al. 2015.

The model is stored as LightGBM's own JSON dump (``Booster.dump_model``) and evaluated here in
plain Python, tree by tree: importing LightGBM takes over a second, more than a typical repair.
"""

from __future__ import annotations

import ast
import json
import math
import re
from functools import lru_cache
from pathlib import Path

from kelp.errors import KelpError

#: Feature names, in the model's column order.
FEATURES = (
    "family", "op", "node", "root_error",  # categorical
    "prior", "log_prior", "rank", "rank_frac", "depth", "suspiciousness", "line_rank",
    "parent_gain", "parent_close", "old_size", "new_size", "size_delta", "test_constant",
    "family_share", "statement", "removes", "tests",
)
#: Features that are names (encoded by the model's vocabulary; an unknown name is code 0).
CATEGORICAL = ("family", "op", "node", "root_error")

#: The ranker bundled with kelp (``kelp train ranker``'s output).
DEFAULT_RANKER = Path(__file__).resolve().parents[1] / "models" / "checkpoints" / "ranker" / "ranker.json"

_TOKEN = re.compile(r"\w+|[^\w\s]")


class RankerError(KelpError, ValueError):
    """A ranker file that is missing, unreadable or not a ranker."""


def token_count(text: str) -> int:
    """Number of lexical tokens (identifiers, numbers, single punctuation marks) in ``text``."""
    return len(_TOKEN.findall(text))


def _node_at(tree: ast.AST, path: tuple) -> object:
    node = tree
    for step in path:
        node = node[step] if isinstance(step, int) else getattr(node, step)
    return node


def _constants(text: str) -> set:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return set()
    return {(type(n.value).__name__, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, (int, float, str)) and not isinstance(n.value, bool)}


def proposal_features(cands: list, tree: ast.Module, lines: dict[int, float], failing_constants: tuple,
                      depth: int, parent_gain: float, parent_close: float, root_error: str | None,
                      tests: int = 0) -> list[dict]:
    """Features of each proposal of one state, in order (``cands``: :class:`Candidate` s sorted
    by score, best first; ``tree``: the state's program; ``lines``: its line suspiciousness;
    ``failing_constants``: literals of the failing tests; ``depth``: the state's edits from the
    buggy program; ``parent_gain`` / ``parent_close``: its progress over the buggy program, in
    tests and in closeness; ``root_error``: the buggy program's first failure's error type;
    ``tests``: how many tests the search sees).
    One dict per candidate, keyed by :data:`FEATURES`; names for :data:`CATEGORICAL`, numbers
    otherwise. Sizes are in tokens (:func:`token_count`)."""
    from kelp.program.spans import line_at

    order = sorted(set(lines.values()), reverse=True)
    dense = {score: i for i, score in enumerate(order)}
    program_constants = None
    families: dict[str, int] = {}
    for cand in cands:
        families[cand.family] = families.get(cand.family, 0) + 1
    out = []
    n = max(len(cands), 1)
    for rank, cand in enumerate(cands):
        edit = cand.edit
        try:
            node = _node_at(tree, edit.path)
            line = line_at(tree, edit.path)
        except (IndexError, AttributeError, TypeError, KeyError):
            node, line = None, None
        old_text = ""
        if edit.op == "insert":
            kind, old_size, statement = "insert", 0, 1
        else:
            kind = type(node).__name__ if node is not None else "?"
            statement = int(isinstance(node, ast.stmt))
            try:
                old_text = ast.unparse(node) if isinstance(node, ast.AST) else ""
            except (AttributeError, ValueError, TypeError, RecursionError):
                old_text = ""
            old_size = token_count(old_text) if old_text else 1
        new = edit.new or ""
        new_size = token_count(new) if edit.op != "delete" else 0
        test_constant = 0
        if failing_constants and new and edit.op != "delete":
            if program_constants is None:
                program_constants = {(type(v).__name__, v) for v in _program_constants(tree)}
            wanted = {(type(v).__name__, v) for v in failing_constants if isinstance(v, (int, float, str))}
            test_constant = int(bool((_constants(new) & wanted) - program_constants))
        score = lines.get(line, 0.0) if line is not None else 0.0
        out.append({
            "family": cand.family, "op": edit.op, "node": kind, "root_error": root_error or "",
            "prior": cand.score, "log_prior": math.log(max(cand.score, 1e-12)), "rank": rank,
            "rank_frac": rank / n, "depth": depth, "suspiciousness": score,
            "line_rank": dense.get(score, len(order)) if line is not None else len(order),
            "parent_gain": parent_gain, "parent_close": parent_close, "old_size": old_size,
            "new_size": new_size, "size_delta": new_size - old_size, "test_constant": test_constant,
            "family_share": families[cand.family] / n, "statement": statement,
            "removes": int(edit.op == "delete" or (old_size > 0 and new_size < old_size)), "tests": tests,
        })
    return out


def _program_constants(tree: ast.Module) -> list:
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, (int, float, str)) and not isinstance(n.value, bool)]


class Ranker:
    """A tree ensemble over :data:`FEATURES` read from a ranker file (JSON: ``features``,
    ``vocab`` {categorical feature: {name: code}}, ``trees``: LightGBM's ``tree_info`` dump).
    :meth:`score` gives one real number per row, higher = try first (LambdaRank scores: only
    their order within one state matters). An optional ``accept`` model (``{"trees",
    "threshold"}``, a binary classifier over the same features) gives the probability that a
    patch passing every test the search sees is correct (:meth:`accept`). Raises
    :class:`RankerError` for a bad file."""

    def __init__(self, spec: dict) -> None:
        try:
            self.features = tuple(spec["features"])
            self.vocab = {k: dict(v) for k, v in spec["vocab"].items()}
            self.trees = [t["tree_structure"] for t in spec["trees"]]
            accept = spec.get("accept") or {}
            self.accept_trees = [t["tree_structure"] for t in accept.get("trees", ())]
            self.accept_threshold = float(accept.get("threshold", 0.0))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise RankerError(f"not a kelp ranker file (missing {exc})") from exc
        self.meta = {k: v for k, v in spec.items() if k not in ("trees", "accept")}

    @classmethod
    def load(cls, path: Path | str) -> "Ranker":
        """The ranker saved at ``path``; raises :class:`RankerError` when it cannot be read."""
        try:
            spec = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise RankerError(f"cannot read ranker {path}: {exc}") from exc
        return cls(spec)

    def encode(self, row: dict) -> list[float]:
        """One feature row as the model's numbers (categorical names by the vocabulary)."""
        out = []
        for name in self.features:
            value = row.get(name)
            if name in self.vocab:
                out.append(float(self.vocab[name].get(value or "", 0)))
            else:
                out.append(float(value) if value is not None else math.nan)
        return out

    def score(self, rows: list[dict]) -> list[float]:
        """The model's raw score of each feature row (``len(rows)`` floats)."""
        return [self.score_encoded(self.encode(row)) for row in rows]

    def score_encoded(self, x: list[float]) -> float:
        """The sum of the trees' leaf values for one encoded row (LightGBM's raw score)."""
        return sum(_leaf(tree, x) for tree in self.trees)

    def accept(self, row: dict | None) -> float | None:
        """Probability (0-1) that the plausible patch whose last edit has feature ``row`` is
        correct; ``None`` without an accept model or a row."""
        if not self.accept_trees or not row:
            return None
        x = self.encode(row)
        return 1.0 / (1.0 + math.exp(-sum(_leaf(tree, x) for tree in self.accept_trees)))


def _leaf(node: dict, x: list[float]) -> float:
    """Walk one tree of LightGBM's JSON dump for row ``x``: numerical splits ``<=`` with the
    dump's missing-value handling, categorical splits ``==`` on ``a||b||c`` code sets."""
    while "leaf_value" not in node:
        value = x[node["split_feature"]]
        if node["decision_type"] == "==":
            left = not math.isnan(value) and str(int(value)) in _categories(node["threshold"])
        else:
            missing = node.get("missing_type", "None")
            if math.isnan(value) and missing != "NaN":
                value = 0.0  # LightGBM reads a missing value as zero unless NaN is its own case
            if (missing == "NaN" and math.isnan(value)) or (missing == "Zero" and value == 0.0):
                left = node["default_left"]
            else:
                left = value <= node["threshold"]
        node = node["left_child"] if left else node["right_child"]
    return node["leaf_value"]


@lru_cache(maxsize=4096)
def _categories(threshold: str) -> frozenset:
    return frozenset(str(threshold).split("||"))


@lru_cache(maxsize=4)
def load_default() -> Ranker | None:
    """The bundled ranker, or ``None`` when kelp was installed without it."""
    return Ranker.load(DEFAULT_RANKER) if DEFAULT_RANKER.is_file() else None


def reorder(cands: list, scores: list[float], window: int) -> list:
    """``cands`` (sorted by score, best first) with the first ``window`` put in the order of
    ``scores`` (higher first; ties keep their order) and given the scores of the original
    first ``window`` in turn, so the ranker changes which proposal of a state goes first but not
    how the state's proposals compare with other states'. Beyond the window nothing changes.
    Returns new :class:`Candidate` s."""
    from dataclasses import replace

    head = cands[:window]
    order = sorted(range(len(head)), key=lambda i: (-scores[i], i))
    return [replace(head[i], score=head[slot].score) for slot, i in enumerate(order)] + cands[window:]
