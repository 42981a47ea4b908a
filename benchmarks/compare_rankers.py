"""Compare proposal rankers offline on the same search states: the proposers' own order, LightGBM
ranker files, a patch cross-encoder, and the two combined (the mean of their normalised ranks).

For every state of the search data that holds a correct candidate (``--held-out``: only the tasks
both trainers hold out), the rank of its first correct candidate under each order. Prints one JSON
object: per order ``{"groups", "top1", "top4", "top16", "mean_rank"}``, for all states and for
the buggy programs' own states (``root``), plus the cross-encoder's scoring time.

    python benchmarks/compare_rankers.py --data runs/sd-valn --ranker runs/rk-n.json \
        --cross-encoder runs/ce1/checkpoint
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _ranks(scores: list[float]) -> list[float]:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    out = [0.0] * len(scores)
    for r, i in enumerate(order):
        out[i] = float(r)
    return out


def main() -> None:
    from kelp.models.ranker import Ranker
    from kelp.train.cross_encoder_trainer import patch_groups
    from kelp.train.ranker_trainer import RELEVANCE, first_correct_ranks, held_out_task, rank_summary

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, action="append", required=True, help="search-data folder (repeatable)")
    parser.add_argument("--held-out", type=float, default=None,
                        help="keep only the tasks in this held-out share (the trainers' split, e.g. 0.1)")
    parser.add_argument("--ranker", type=Path, action="append", default=[], help="LightGBM ranker file (repeatable)")
    parser.add_argument("--cross-encoder", type=Path, default=None, help="cross-encoder checkpoint directory")
    parser.add_argument("--max-groups", type=int, default=None, help="score at most this many states")
    args = parser.parse_args()

    model = None
    if args.cross_encoder is not None:
        from kelp.models.cross_encoder import load_cross_encoder

        model = load_cross_encoder(args.cross_encoder)
    header = model is not None and model.header
    groups = [g for g in patch_groups(args.data, header) if RELEVANCE["correct"] in g["labels"]]
    if args.held_out is not None:
        groups = [g for g in groups if held_out_task(g["task_id"], args.held_out)]
    groups = groups[: args.max_groups]
    if not groups:
        sys.exit("no states with a correct candidate in that data")
    orders: dict[str, list[list[float]] | None] = {"proposers": None}
    for path in args.ranker:
        ranker = Ranker.load(path)
        orders[f"lightgbm:{path.name}"] = [ranker.score(g["rows"]) for g in groups]
    seconds = None
    if model is not None:
        start = time.perf_counter()
        ce = [model.score(g["texts"]) for g in groups]
        seconds = time.perf_counter() - start
        orders["cross_encoder"] = ce
        for path in args.ranker:
            lgb = orders[f"lightgbm:{path.name}"]
            orders[f"combined:{path.name}"] = [[-(a + b) for a, b in zip(_ranks(x), _ranks(y))]
                                               for x, y in zip(lgb, ce)]

    roots = [i for i, g in enumerate(groups) if g["rows"][0]["depth"] == 0]
    report = {"data": [str(d) for d in args.data], "held_out": args.held_out, "states": len(groups),
              "candidates": sum(len(g["texts"]) for g in groups),
              "cross_encoder_ms_per_candidate": None if seconds is None else
              round(1000 * seconds / sum(len(g["texts"]) for g in groups), 3)}
    for name, scores in orders.items():
        report[name] = {"all": rank_summary(first_correct_ranks(groups, scores)),
                        "root": rank_summary(first_correct_ranks([groups[i] for i in roots],
                                                            None if scores is None else [scores[i] for i in roots]))}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
