"""Train the search's proposal ranker (:mod:`kelp.repair.ranking`) from search-labelled data
(:mod:`kelp.train.search_data`) with LightGBM's LambdaRank objective (Burges 2010, "From
RankNet to LambdaRank to LambdaMART"), as Prophet learns to rank patches (Long & Rinard 2016).

One query group is the proposals of one state the search expanded (a task's buggy program or a
state it reached), as far as the search ran them. Relevance: 3 for a correct repair, 1 for a
candidate that passes more tests than its state (progress towards a multi-edit repair), 0
otherwise, plausible-but-wrong patches included. Problems are split by task id: a tenth of them
(by a hash, so the split is the same in every run) is held out for early stopping and for the
report, which compares the held-out rank of the first correct proposal under the proposers' own
order and under the ranker.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from kelp.errors import KelpError
from kelp.repair.ranking import CATEGORICAL, FEATURES, Ranker
from kelp.train.search_data import read_search_data

RELEVANCE = {"correct": 3, "progress": 1, "other": 0}


class RankerTrainingError(KelpError, ValueError):
    """No usable data, or bad settings."""


@dataclass(frozen=True)
class RankerConfig:
    """LightGBM settings: ``trees`` (boosting rounds, at most), ``leaves`` per tree,
    ``learning_rate``, ``min_leaf`` (examples per leaf), ``early_stop`` (rounds without
    held-out NDCG@1 gain), ``holdout`` (share of task ids held out), ``seed``."""

    trees: int = 300
    leaves: int = 15
    learning_rate: float = 0.05
    min_leaf: int = 20
    early_stop: int = 40
    holdout: float = 0.1
    seed: int = 0


def _relevance(c: dict) -> int:
    if c["label"] == "correct":
        return RELEVANCE["correct"]
    if c["label"] == "failing" and c["status"] == "ok" and c["value"] > c["parent_value"]:
        return RELEVANCE["progress"]
    return RELEVANCE["other"]


def _held_out(task_id: str, share: float) -> bool:
    digest = hashlib.sha256(task_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2 ** 32 < share


def ranking_groups(folders: list[Path]) -> list[dict]:
    """The query groups of search-data ``folders``: ``{"task_id", "rows" (feature dicts, in the
    order the proposers gave them), "labels" (relevance)}`` for every expanded state with at
    least two ranked candidates."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    task_ids: dict[str, str] = {}
    for folder in folders:
        tasks, candidates = read_search_data(Path(folder))
        for t in tasks:
            task_ids[f"{folder}:{t['key']}"] = str(t["task_id"])
        for c in candidates:
            if c.get("features"):
                groups[(f"{folder}:{c['key']}", c.get("parent", 0), c["depth"])].append(c)
    out = []
    for (key, _parent, _depth), members in groups.items():
        if len(members) < 2:
            continue
        members.sort(key=lambda c: c["features"]["rank"])
        out.append({"task_id": task_ids[key], "rows": [c["features"] for c in members],
                    "labels": [_relevance(c) for c in members]})
    return out


def _vocabulary(groups: list[dict]) -> dict[str, dict[str, int]]:
    names: dict[str, set] = {name: set() for name in CATEGORICAL}
    for g in groups:
        for row in g["rows"]:
            for name in CATEGORICAL:
                names[name].add(row.get(name) or "")
    return {name: {value: i + 1 for i, value in enumerate(sorted(values))} for name, values in names.items()}


def first_correct_ranks(groups: list[dict], scores: list[list[float]] | None) -> list[int]:
    """For each group holding a correct candidate, the 0-based rank of its first correct one in
    the proposers' order (``scores`` None) or in the order of ``scores`` (higher first, ties in
    the proposers' order)."""
    ranks = []
    for i, g in enumerate(groups):
        if RELEVANCE["correct"] not in g["labels"]:
            continue
        order = range(len(g["rows"])) if scores is None else sorted(
            range(len(g["rows"])), key=lambda j: (-scores[i][j], j))
        ranks.append(next(r for r, j in enumerate(order) if g["labels"][j] == RELEVANCE["correct"]))
    return ranks


def _summary(ranks: list[int]) -> dict:
    n = len(ranks) or 1
    return {"groups": len(ranks), "top1": round(sum(r == 0 for r in ranks) / n, 4),
            "top4": round(sum(r < 4 for r in ranks) / n, 4), "mean_rank": round(sum(ranks) / n, 3)}


def train_ranker(folders: list[Path], out: Path, config: RankerConfig = RankerConfig(), *,
                 command: str = "") -> dict:
    """Train on the search-data ``folders`` and write the ranker file ``out`` (JSON, read by
    :class:`~kelp.repair.ranking.Ranker`); returns the report (examples, groups, best round,
    held-out first-correct ranks under the proposers' order and the ranker's). Raises
    :class:`RankerTrainingError` when the data holds no group with a correct candidate on
    either side of the split."""
    import lightgbm as lgb
    import numpy as np

    started = time.monotonic()
    groups = ranking_groups([Path(f) for f in folders])
    train = [g for g in groups if not _held_out(g["task_id"], config.holdout)]
    held = [g for g in groups if _held_out(g["task_id"], config.holdout)]
    if not any(RELEVANCE["correct"] in g["labels"] for g in train) or \
            not any(RELEVANCE["correct"] in g["labels"] for g in held):
        raise RankerTrainingError(f"{len(groups)} ranked groups in {', '.join(map(str, folders))}: too few "
                                  "with a correct candidate to train and hold out; make more search data")
    vocab = _vocabulary(train)
    encoder = Ranker({"features": FEATURES, "vocab": vocab, "trees": []})

    def matrix(part):
        x = np.array([encoder.encode(row) for g in part for row in g["rows"]], dtype=np.float64)
        y = np.array([label for g in part for label in g["labels"]], dtype=np.int32)
        return x, y, [len(g["rows"]) for g in part]

    categorical = [FEATURES.index(name) for name in CATEGORICAL]
    x, y, sizes = matrix(train)
    hx, hy, hsizes = matrix(held)
    params = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [1, 4], "num_leaves": config.leaves,
              "learning_rate": config.learning_rate, "min_data_in_leaf": config.min_leaf,
              "label_gain": [0, 1, 2, 3], "seed": config.seed, "deterministic": True, "num_threads": 2,
              "verbosity": -1, "cat_smooth": 10.0, "max_cat_to_onehot": 8}
    train_set = lgb.Dataset(x, y, group=sizes, feature_name=list(FEATURES), categorical_feature=categorical,
                            free_raw_data=False)
    held_set = lgb.Dataset(hx, hy, group=hsizes, reference=train_set, categorical_feature=categorical)
    booster = lgb.train(params, train_set, num_boost_round=config.trees, valid_sets=[held_set],
                        callbacks=[lgb.early_stopping(config.early_stop, first_metric_only=True, verbose=False)])
    dump = booster.dump_model(num_iteration=booster.best_iteration)
    ranker = Ranker({"features": FEATURES, "vocab": vocab, "trees": dump["tree_info"]})
    held_scores = [ranker.score(g["rows"]) for g in held]
    raw = booster.predict(hx, num_iteration=booster.best_iteration, raw_score=True)
    ours = [s for scores in held_scores for s in scores]
    drift = float(max(abs(a - b) for a, b in zip(raw, ours))) if ours else 0.0
    report = {
        "examples": int(len(y)), "groups": len(train), "held_out_groups": len(held),
        "positives": int((y == RELEVANCE["correct"]).sum()), "best_round": int(booster.best_iteration),
        "held_out_proposer_order": _summary(first_correct_ranks(held, None)),
        "held_out_ranker": _summary(first_correct_ranks(held, held_scores)),
        "max_score_difference_from_lightgbm": drift, "seconds": round(time.monotonic() - started, 1),
        "config": asdict(config), "data": [str(f) for f in folders], "command": command,
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    spec = {"format": "kelp-ranker/1", "features": list(FEATURES), "vocab": vocab, "report": report,
            "importance": dict(zip(FEATURES, (int(v) for v in booster.feature_importance("gain")))),
            "trees": dump["tree_info"]}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(spec, separators=(",", ":")) + "\n")
    tmp.replace(out)
    return report
