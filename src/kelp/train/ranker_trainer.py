"""Train the search's proposal ranker (:mod:`kelp.repair.ranking`) from search-labelled data
(:mod:`kelp.train.search_data`) with LightGBM's LambdaRank objective (Burges 2010, "From
RankNet to LambdaRank to LambdaMART"), as Prophet learns to rank patches (Long & Rinard 2016).

One query group is the proposals of one state the search expanded (a task's buggy program or a
state it reached), as far as the search ran them. Relevance: 3 for a correct repair, 1 for a
candidate that passes more tests than its state (progress towards a multi-edit repair), 0
otherwise, plausible-but-wrong patches included. Settings (7 leaves, 200 rounds, no early
stopping) were chosen on search data of MBPP's validation split, by the rank of the first correct
proposal of the buggy program's state. Next to the ranker, a binary classifier of the
plausible candidates (correct or not) is trained on the same features: the search doubts a
patch it gives a low probability and looks a little further for a better one. Problems are split by task id: a tenth of them
(by a hash, so the split is the same in every run) is held out for the report, which compares the held-out rank of the first correct proposal under the proposers' own
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
from kelp.models.ranker import Ranker
from kelp.repair.ranking import CATEGORICAL, FEATURES
from kelp.train.search_data import read_search_data

RELEVANCE = {"correct": 3, "progress": 1, "other": 0}
#: Probability of being correct under which the search doubts a plausible patch.
ACCEPT_THRESHOLD = 0.5
#: Boosting rounds of the accept model (a fixed number: its held-out part is too small to stop on).
ACCEPT_ROUNDS = 100


class RankerTrainingError(KelpError, ValueError):
    """No usable data, or bad settings."""


@dataclass(frozen=True)
class RankerConfig:
    """LightGBM settings: ``trees`` (boosting rounds), ``leaves`` per tree, ``learning_rate``,
    ``min_leaf`` (examples per leaf), ``holdout`` (share of task ids held out), ``seed``;
    ``balance_families``: weight each group by the inverse frequency of the family of its
    first correct candidate (groups without one keep weight 1), so that the ranker does not
    learn the forward process's family frequencies, which are not those of human bugs;
    ``exclude``: features the model may not use (their column is blanked in training)."""

    trees: int = 200
    leaves: int = 7
    learning_rate: float = 0.05
    min_leaf: int = 20
    holdout: float = 0.1
    seed: int = 0
    balance_families: bool = False
    exclude: tuple[str, ...] = ()


def _relevance(c: dict) -> int:
    if c["label"] == "correct":
        return RELEVANCE["correct"]
    if c["label"] == "failing" and c["status"] == "ok" and c["value"] > c["parent_value"]:
        return RELEVANCE["progress"]
    return RELEVANCE["other"]


def held_out_task(task_id: str, share: float) -> bool:
    """Whether ``task_id`` is in the held-out ``share`` of tasks (by a hash, the same every run)."""
    digest = hashlib.sha256(task_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2 ** 32 < share


def ranked_candidates(folders: list[Path]) -> list[dict]:
    """The candidates of search-data ``folders`` that carry ranker features, each with
    ``task_id`` and ``key`` (``folder:task key``), ``tests`` filled in from the task's visible
    tests where the data predates that feature."""
    out = []
    for folder in folders:
        tasks, candidates = read_search_data(Path(folder))
        by_key = {t["key"]: t for t in tasks}
        for c in candidates:
            if c.get("features"):
                task = by_key[c["key"]]
                c["features"].setdefault("tests", len(task.get("visible") or ()))
                c["task_id"], c["key"] = str(task["task_id"]), f"{folder}:{c['key']}"
                out.append(c)
    return out


def ranking_groups(candidates: list[dict]) -> list[dict]:
    """The query groups of :func:`ranked_candidates`: ``{"task_id", "rows" (feature dicts, in
    the order the proposers gave them), "labels" (relevance), "members" (the candidate records,
    in that order)}`` for every expanded state with at least two ranked candidates."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for c in candidates:
        groups[(c["key"], c.get("parent", 0), c["depth"])].append(c)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda c: c["features"]["rank"])
        out.append({"task_id": members[0]["task_id"], "rows": [c["features"] for c in members],
                    "labels": [_relevance(c) for c in members], "members": members})
    return out


def family_weights(groups: list[dict]) -> list[float]:
    """One weight per group: ``n / (k * count)`` for a group whose first correct candidate is
    of a family with ``count`` such groups among ``n`` groups with a correct candidate and
    ``k`` families (so every family weighs the same in total); 1 for a group without one."""
    def fix_family(g):
        return next((row.get("family") for row, label in zip(g["rows"], g["labels"])
                     if label == RELEVANCE["correct"]), None)

    families = [fix_family(g) for g in groups]
    counts: dict[str, int] = defaultdict(int)
    for f in families:
        if f is not None:
            counts[f] += 1
    n = sum(counts.values())
    return [1.0 if f is None else n / (len(counts) * counts[f]) for f in families]


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


def rank_summary(ranks: list[int]) -> dict:
    """``{"groups", "top1", "top4", "top16", "mean_rank"}`` of 0-based ranks of first correct
    candidates (shares ranked first, in the first 4, in the first 16; mean rank)."""
    n = len(ranks) or 1
    return {"groups": len(ranks), "top1": round(sum(r == 0 for r in ranks) / n, 4),
            "top4": round(sum(r < 4 for r in ranks) / n, 4), "top16": round(sum(r < 16 for r in ranks) / n, 4),
            "mean_rank": round(sum(ranks) / n, 3)}


def root_ranks(ranker: Ranker | None, folders: list[Path]) -> dict:
    """How the first correct proposal of each buggy program's state ranks in search-data
    ``folders`` (e.g. of MBPP's validation split), under ``ranker`` or (``None``) the proposers'
    own order: ``{"groups", "top1", "top4", "top16", "mean_rank"}`` over the states that hold a
    correct proposal."""
    roots = [g for g in ranking_groups(ranked_candidates([Path(f) for f in folders])) if g["rows"][0]["depth"] == 0]
    ranks = first_correct_ranks(roots, None if ranker is None else [ranker.score(g["rows"]) for g in roots])
    return rank_summary(ranks)


def train_ranker(folders: list[Path], out: Path, config: RankerConfig = RankerConfig(), *,
                 command: str = "", validate: list[Path] = ()) -> dict:
    """Train on the search-data ``folders`` and write the ranker file ``out`` (JSON, read by
    :class:`~kelp.models.ranker.Ranker`); returns the report (examples, groups, rounds,
    held-out first-correct ranks under the proposers' order and the ranker's, and with
    ``validate`` folders the same on their buggy programs' states: :func:`root_ranks`). Raises
    :class:`RankerTrainingError` when the data holds no group with a correct candidate on
    either side of the split."""
    import lightgbm as lgb
    import numpy as np

    started = time.monotonic()
    candidates = ranked_candidates([Path(f) for f in folders])
    groups = ranking_groups(candidates)
    train = [g for g in groups if not held_out_task(g["task_id"], config.holdout)]
    held = [g for g in groups if held_out_task(g["task_id"], config.holdout)]
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

    unknown = [name for name in config.exclude if name not in FEATURES]
    if unknown:
        raise RankerTrainingError(f"unknown features to exclude: {', '.join(unknown)} (known: {', '.join(FEATURES)})")
    categorical = [FEATURES.index(name) for name in CATEGORICAL]
    x, y, sizes = matrix(train)
    for name in config.exclude:  # a constant column: no split can use it
        x[:, FEATURES.index(name)] = 0.0
    weights = None
    if config.balance_families:
        weights = np.array([w for g, w in zip(train, family_weights(train)) for _row in g["rows"]], dtype=np.float64)
    hx, _hy, _sizes = matrix(held)
    params = {"objective": "lambdarank", "num_leaves": config.leaves,
              "learning_rate": config.learning_rate, "min_data_in_leaf": config.min_leaf,
              "label_gain": [0, 1, 2, 3], "seed": config.seed, "deterministic": True, "num_threads": 2,
              "verbosity": -1, "cat_smooth": 10.0, "max_cat_to_onehot": 8}
    train_set = lgb.Dataset(x, y, group=sizes, weight=weights, feature_name=list(FEATURES),
                            categorical_feature=categorical, free_raw_data=False)
    booster = lgb.train(params, train_set, num_boost_round=config.trees)
    dump = booster.dump_model()
    accept, accept_report = _train_accept(candidates, encoder, categorical, config)
    ranker = Ranker({"features": FEATURES, "vocab": vocab, "trees": dump["tree_info"]})
    held_scores = [ranker.score(g["rows"]) for g in held]
    raw = booster.predict(hx, raw_score=True)
    ours = [s for scores in held_scores for s in scores]
    drift = float(max(abs(a - b) for a, b in zip(raw, ours))) if ours else 0.0
    report = {
        "examples": int(len(y)), "groups": len(train), "held_out_groups": len(held),
        "positives": int((y == RELEVANCE["correct"]).sum()), "rounds": booster.num_trees(),
        "held_out_proposer_order": rank_summary(first_correct_ranks(held, None)),
        "held_out_ranker": rank_summary(first_correct_ranks(held, held_scores)),
        "max_score_difference_from_lightgbm": drift, "accept": accept_report,
        "seconds": round(time.monotonic() - started, 1),
        "config": asdict(config), "data": [str(f) for f in folders], "command": command,
    }
    if validate:
        report["validation_proposer_order"] = root_ranks(None, validate)
        report["validation_ranker"] = root_ranks(ranker, validate)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    spec = {"format": "kelp-ranker/1", "features": list(FEATURES), "vocab": vocab, "report": report,
            "importance": dict(zip(FEATURES, (int(v) for v in booster.feature_importance("gain")))),
            "trees": dump["tree_info"], "accept": accept}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(spec, separators=(",", ":")) + "\n")
    tmp.replace(out)
    return report


def _train_accept(candidates: list[dict], encoder: Ranker, categorical: list[int],
                  config: RankerConfig) -> tuple[dict | None, dict]:
    """A binary classifier of the plausible candidates (correct vs plausible but wrong) over the
    features of their last edit (:data:`ACCEPT_ROUNDS` rounds), with the decision threshold of
    :data:`ACCEPT_THRESHOLD`:
    ``(accept spec for the ranker file or None when the data has too few of either kind,
    report: examples, held-out AUC, wrong share among held-out patches trusted and doubted)``."""
    import lightgbm as lgb
    import numpy as np

    plausible = [c for c in candidates if c["label"] in ("correct", "plausible_wrong")]
    train = [c for c in plausible if not held_out_task(c["task_id"], config.holdout)]
    held = [c for c in plausible if held_out_task(c["task_id"], config.holdout)]
    kinds = {c["label"] for c in train}
    if len(kinds) < 2 or len(train) < 4 * config.min_leaf or not held:
        return None, {"examples": len(plausible), "trained": False}

    def matrix(part):
        return (np.array([encoder.encode(c["features"]) for c in part], dtype=np.float64),
                np.array([c["label"] == "correct" for c in part], dtype=np.int32))

    x, y = matrix(train)
    for name in config.exclude:
        x[:, FEATURES.index(name)] = 0.0
    hx, hy = matrix(held)
    params = {"objective": "binary", "num_leaves": 7, "learning_rate": config.learning_rate,
              "min_data_in_leaf": config.min_leaf, "seed": config.seed, "deterministic": True, "num_threads": 2,
              "verbosity": -1, "metric": "auc"}
    booster = lgb.train(params, lgb.Dataset(x, y, feature_name=list(FEATURES), categorical_feature=categorical),
                        num_boost_round=min(config.trees, ACCEPT_ROUNDS))
    p = booster.predict(hx)
    trusted = p >= ACCEPT_THRESHOLD
    pos, neg = p[hy == 1], p[hy == 0]
    auc = float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()) \
        if len(pos) and len(neg) else None
    report = {"examples": len(plausible), "trained": True, "rounds": booster.num_trees(),
              "held_out": len(held), "held_out_auc": None if auc is None else round(auc, 4),
              "held_out_wrong_share": round(float(1 - hy.mean()), 4),
              "held_out_wrong_share_trusted": round(float(1 - hy[trusted].mean()), 4) if trusted.any() else None,
              "held_out_doubted": int((~trusted).sum()),
              "held_out_wrong_share_doubted": round(float(1 - hy[~trusted].mean()), 4) if (~trusted).any() else None}
    dump = booster.dump_model()
    return {"trees": dump["tree_info"], "threshold": ACCEPT_THRESHOLD}, report
