"""The learned proposal ranker's model: a gradient-boosted tree ensemble over the features of
:mod:`kelp.repair.ranking`, trained by ``kelp train ranker`` (LightGBM, LambdaRank objective;
Burges 2010) and stored as LightGBM's own JSON dump (``Booster.dump_model``), with an optional
accept model (a binary classifier of plausible patches). The trees are evaluated here, not by
LightGBM (importing it takes over a second, more than a typical repair): flattened into numpy
arrays and walked for all of a state's proposals at once (:class:`CompiledTrees`), with the same
split rules as LightGBM's prediction.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

from kelp.errors import KelpError

#: The ranker bundled with kelp (``kelp train ranker``'s output).
DEFAULT_RANKER = Path(__file__).resolve().parent / "checkpoints" / "ranker" / "ranker.json"


class RankerError(KelpError, ValueError):
    """A ranker file that is missing, unreadable or not a ranker."""


class Ranker:
    """A tree ensemble over the features of :mod:`kelp.repair.ranking` read from a ranker file (JSON: ``features``,
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
        self._compiled: CompiledTrees | None = None

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
        """The model's raw score of each feature row (``len(rows)`` floats: the sum of the trees'
        leaf values, LightGBM's raw score), all rows at once (:class:`CompiledTrees`)."""
        if not rows:
            return []
        if self._compiled is None:
            self._compiled = CompiledTrees(self.trees)
        return self._compiled.score([self.encode(row) for row in rows])

    def score_encoded(self, x: list[float]) -> float:
        """The sum of the trees' leaf values for one encoded row, one tree walk at a time (the
        reference :meth:`score` agrees with)."""
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


class CompiledTrees:
    """A tree ensemble (LightGBM's ``tree_structure`` dumps) flattened into numpy arrays, one
    entry per node, and evaluated for a matrix of rows at once: every row of every tree moves
    down one level per step, so a batch of ``n`` rows costs ``depth`` vectorised steps over
    ``n x trees`` nodes instead of ``n x trees`` Python walks. The split rules are those of
    :func:`_leaf` (numerical ``<=`` with LightGBM's missing-value handling, categorical ``==`` on
    a code set), and the trees' leaf values are added in tree order, so the scores equal the
    walks' exactly."""

    def __init__(self, trees: list[dict]) -> None:
        import numpy as np

        feature, threshold, is_cat, default_left, miss_nan, miss_zero = [], [], [], [], [], []
        left, right, value, codes = [], [], [], []

        def add(node: dict) -> int:
            index = len(feature)
            for column in (feature, threshold, is_cat, default_left, miss_nan, miss_zero, left, right, value):
                column.append(0)
            codes.append(frozenset())
            if "leaf_value" in node:
                left[index] = right[index] = -1
                value[index] = float(node["leaf_value"])
                return index
            feature[index] = int(node["split_feature"])
            missing = node.get("missing_type", "None")
            miss_nan[index], miss_zero[index] = missing == "NaN", missing == "Zero"
            default_left[index] = bool(node.get("default_left", False))
            if node["decision_type"] == "==":
                is_cat[index] = True
                codes[index] = frozenset(int(c) for c in _categories(node["threshold"]))
            else:
                threshold[index] = float(node["threshold"])
            left[index] = add(node["left_child"])
            right[index] = add(node["right_child"])
            return index

        self.roots = np.array([add(tree) for tree in trees], dtype=np.int64)
        self.depth = max((_depth(tree) for tree in trees), default=0)
        self.feature = np.array(feature, dtype=np.int64)
        self.threshold = np.array(threshold, dtype=np.float64)
        self.is_cat = np.array(is_cat, dtype=bool)
        self.default_left = np.array(default_left, dtype=bool)
        self.miss_nan = np.array(miss_nan, dtype=bool)
        self.miss_zero = np.array(miss_zero, dtype=bool)
        self.left = np.array(left, dtype=np.int64)
        self.right = np.array(right, dtype=np.int64)
        self.value = np.array(value, dtype=np.float64)
        self.is_leaf = self.left < 0
        width = 1 + max((max(c) for c in codes if c), default=0)
        self.member = np.zeros((len(feature), width), dtype=bool)  # categorical node x code
        for index, node_codes in enumerate(codes):
            for code in node_codes:
                if code >= 0:
                    self.member[index, code] = True

    def score(self, rows: list[list[float]]) -> list[float]:
        """The sum of the trees' leaf values of each encoded row (``rows``: equal-length lists of
        floats, NaN for a missing value); ``len(rows)`` floats."""
        import numpy as np

        x = np.asarray(rows, dtype=np.float64)
        if not len(self.roots):
            return [0.0] * len(x)
        node = np.repeat(self.roots[None, :], len(x), axis=0)  # (rows, trees)
        row = np.arange(len(x))[:, None]
        width = self.member.shape[1]
        for _ in range(self.depth):
            leaf = self.is_leaf[node]
            if leaf.all():
                break
            v = x[row, self.feature[node]]
            nan = np.isnan(v)
            miss_nan = self.miss_nan[node]
            v0 = np.where(nan & ~miss_nan, 0.0, v)  # missing reads as zero unless NaN is its own case
            use_default = (miss_nan & nan) | (self.miss_zero[node] & (v0 == 0.0))
            with np.errstate(invalid="ignore"):
                numeric = np.where(use_default, self.default_left[node], v0 <= self.threshold[node])
                code = np.where(nan, -1.0, v).astype(np.int64)
            known = (code >= 0) & (code < width)
            categorical = known & self.member[node, np.clip(code, 0, width - 1)]
            go_left = np.where(self.is_cat[node], categorical, numeric)
            node = np.where(leaf, node, np.where(go_left, self.left[node], self.right[node]))
        return np.cumsum(self.value[node], axis=1)[:, -1].tolist()  # tree order, as the walks add


def _depth(node: dict) -> int:
    return 0 if "leaf_value" in node else 1 + max(_depth(node["left_child"]), _depth(node["right_child"]))


@lru_cache(maxsize=4096)
def _categories(threshold: str) -> frozenset:
    return frozenset(str(threshold).split("||"))


@lru_cache(maxsize=1)
def load_default() -> Ranker | None:
    """The bundled ranker, or ``None`` when kelp was installed without it."""
    return Ranker.load(DEFAULT_RANKER) if DEFAULT_RANKER.is_file() else None
