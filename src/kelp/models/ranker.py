"""The learned proposal ranker's model: a gradient-boosted tree ensemble over the features of
:mod:`kelp.repair.ranking`, trained by ``kelp train ranker`` (LightGBM, LambdaRank objective;
Burges 2010) and stored as LightGBM's own JSON dump (``Booster.dump_model``), with an optional
accept model (a binary classifier of plausible patches). The trees are evaluated here in plain
Python: importing LightGBM takes over a second, more than a typical repair.
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


@lru_cache(maxsize=1)
def load_default() -> Ranker | None:
    """The bundled ranker, or ``None`` when kelp was installed without it."""
    return Ranker.load(DEFAULT_RANKER) if DEFAULT_RANKER.is_file() else None
