"""``kelp train cross-encoder``: fine-tune the bundled edit model into a patch cross-encoder
(:mod:`kelp.models.cross_encoder`) on the search-labelled data the LightGBM ranker learns from
(:mod:`kelp.train.search_data`), with the same query groups, relevance and held-out tasks
(:mod:`kelp.train.ranker_trainer`), so that the two rankers are compared on the same states.

A step samples ``groups`` states that hold a correct candidate; from each it takes up to
``positives`` candidates of positive relevance and fills ``group_size`` with seeded random
others. The loss is ListNet's (Cao et al. 2007, "Learning to rank: from pairwise approach to
listwise approach"): the cross-entropy between the softmax of a group's scores and its gains
``2**relevance - 1`` normalised to a distribution. The batch of step ``k`` comes from
``random.Random(f"{seed}:{k}")``, so a resumed run draws what an uninterrupted one would. The
run is :func:`kelp.train.loop.fit`'s: ``out`` holds ``settings.json``, ``metrics.jsonl``,
``curves.png`` and ``checkpoint/``.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from kelp.errors import KelpError
from kelp.train.distributed import main_first
from kelp.train.loop import LoopConfig, Task, check_settings, fit
from kelp.train.ranker_trainer import RELEVANCE, first_correct_ranks, held_out_task, rank_summary, ranking_groups
from kelp.train.search_data import read_search_data


class CrossEncoderTrainError(KelpError, ValueError):
    """Settings that cannot train, too little data, or a run directory holding another run."""


@dataclass
class CrossEncoderConfig:
    """Settings of ``kelp train cross-encoder`` (saved as ``settings.json``): ``data``: search-data
    folders; ``base``: the edit-model checkpoint it starts from (``None``: the bundled one);
    ``holdout``: share of task ids held out (the LightGBM ranker's split); ``eval_groups``: most
    held-out states scored at an evaluation; ``header``: start every text with the proposal's
    :func:`~kelp.models.cross_encoder.feature_header` (family, op, suspiciousness, rank)."""

    data: list[str] = field(default_factory=list)
    base: str | None = None
    steps: int = 300
    groups: int = 8
    group_size: int = 8
    positives: int = 2
    lr: float = 1e-4
    warmup: int = 30
    weight_decay: float = 0.01
    holdout: float = 0.1
    eval_every: int = 300
    eval_groups: int = 200
    seed: int = 0
    header: bool = False

    def check(self) -> None:
        """Raise :class:`CrossEncoderTrainError` for settings that cannot train."""
        if not self.data:
            raise CrossEncoderTrainError("give at least one search-data folder (--data)")
        if self.steps < 1 or self.groups < 1 or self.group_size < 2 or not 1 <= self.positives < self.group_size:
            raise CrossEncoderTrainError("need steps >= 1, groups >= 1, group_size >= 2 and 1 <= positives < group_size")
        if not 0.0 < self.holdout < 1.0:
            raise CrossEncoderTrainError(f"holdout must be in (0, 1), got {self.holdout}")


def patch_groups(folders: list[Path], header: bool = False) -> list[dict]:
    """The ranker's query groups (:func:`~kelp.train.ranker_trainer.ranking_groups`) of search-data
    ``folders``, each with ``"texts"``: every candidate's :func:`~kelp.models.cross_encoder.patch_text`
    against the state it was proposed for (after its
    :func:`~kelp.models.cross_encoder.feature_header` line with ``header``)."""
    from kelp.models.cross_encoder import feature_header, patch_text

    candidates = []
    for folder in folders:
        tasks, records = read_search_data(Path(folder))
        by_key = {t["key"]: t for t in tasks}
        sources = {(c["key"], c["execution"]): c["source"] for c in records}
        for c in records:
            if not c.get("features"):
                continue
            task = by_key[c["key"]]
            parent = task["source"] if c.get("parent", 0) == 0 else sources.get((c["key"], c["parent"]), task["source"])
            c["features"].setdefault("tests", len(task.get("visible") or ()))
            c["patch"] = patch_text(parent, c["source"])
            c["task_id"], c["key"] = str(task["task_id"]), f"{folder}:{c['key']}"
            candidates.append(c)
    groups = ranking_groups(candidates)
    for g in groups:
        g["texts"] = [(feature_header(c["features"]) + "\n" if header else "") + c["patch"] for c in g["members"]]
    return groups


def listnet_loss(scores: torch.Tensor, gains: torch.Tensor, group: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Mean over ``n_groups`` groups of the cross-entropy between each group's target
    distribution (its ``gains`` normalised) and the softmax of its ``scores``; ``scores``,
    ``gains`` (N,) float, ``group`` (N,) long in ``[0, n_groups)``."""
    losses = []
    for g in range(n_groups):
        at = group == g
        target = gains[at] / gains[at].sum().clamp_min(1e-9)
        losses.append(-(target * torch.log_softmax(scores[at], dim=0)).sum())
    return torch.stack(losses).mean()


def group_ranks(model, groups: list[dict]) -> dict:
    """``{"groups", "top1", "top4", "top16", "mean_rank"}`` of the first correct candidate of
    each group with one, in the order of ``model``'s scores (a cross-encoder) or, for ``model``
    None, in the proposers' order."""
    scores = None if model is None else [model.score(g["texts"]) for g in groups]
    return rank_summary(first_correct_ranks(groups, scores))


class CrossEncoderTask(Task):
    """The cross-encoder's part of a run: seeded group samples, ListNet loss
    (:func:`listnet_loss`), held-out ranks of the first correct candidate (:func:`group_ranks`)."""

    headline = "top1"
    loss_label = "ListNet loss"
    series = (("top1", "held-out top-1", "tab:red"), ("top4", "held-out top-4", "tab:green"))

    def __init__(self, config: CrossEncoderConfig, train: list[dict], held: list[dict]):
        self.config, self.train_groups, self.held = config, train, held

    def build(self):
        from kelp.models.cross_encoder import from_edit_model
        from kelp.models.edit_model import DEFAULT_CHECKPOINT

        return from_edit_model(self.config.base or DEFAULT_CHECKPOINT, self.config.header)

    def load(self, checkpoint: Path, training: dict):
        from kelp.models.cross_encoder import load_cross_encoder

        model = load_cross_encoder(checkpoint)
        model.train()
        return model

    def state(self) -> dict:
        return {"config": asdict(self.config)}

    def batch(self, model, step: int) -> tuple[torch.Tensor, ...]:
        """``(ids, mask, gains, group)``: ids/mask (N, T), gains (N,) float, group (N,) long."""
        config = self.config
        rng = random.Random(f"{config.seed}:{step}")
        texts, gains, owner = [], [], []
        for g, group in enumerate(rng.sample(self.train_groups, min(config.groups, len(self.train_groups)))):
            good = [i for i, label in enumerate(group["labels"]) if label > 0]
            good = rng.sample(good, min(config.positives, len(good)))
            rest = [i for i in range(len(group["labels"])) if i not in good]
            picked = good + rng.sample(rest, min(config.group_size - len(good), len(rest)))
            texts += [group["texts"][i] for i in picked]
            gains += [2.0 ** group["labels"][i] - 1.0 for i in picked]
            owner += [g] * len(picked)
        ids, mask = model.tokenize(texts)
        return ids, mask, torch.tensor(gains), torch.tensor(owner)

    def loss(self, model, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        ids, mask, gains, owner = batch
        return listnet_loss(model(ids, mask), gains, owner, int(owner.max().item()) + 1)

    def evaluate(self, model) -> dict:
        return group_ranks(model, self.held)

    def save(self, model, directory: Path, training: dict) -> None:
        from kelp.models.cross_encoder import save_cross_encoder

        save_cross_encoder(directory, model, training)


def train_cross_encoder(config: CrossEncoderConfig, out: Path, *, until: int | None = None, progress: bool = True,
                        log_every: int = 10) -> dict:
    """Fine-tune (or resume) into ``out`` with :func:`~kelp.train.loop.fit`; returns the last
    evaluation with ``step``, the proposers' own order on the same held-out states
    (``proposers``) and the group counts. Raises :class:`CrossEncoderTrainError` for bad
    settings, too little data or a directory holding another run."""
    config.check()
    out = Path(out)
    with main_first():
        out.mkdir(parents=True, exist_ok=True)
        check_settings(out, asdict(config), CrossEncoderTrainError)
    groups = patch_groups([Path(f) for f in config.data], config.header)
    correct = RELEVANCE["correct"]
    train = [g for g in groups if not held_out_task(g["task_id"], config.holdout) and correct in g["labels"]]
    held = [g for g in groups if held_out_task(g["task_id"], config.holdout) and correct in g["labels"]]
    held = held[: config.eval_groups]
    if len(train) < config.groups or not held:
        raise CrossEncoderTrainError(f"{len(train)} training and {len(held)} held-out states with a correct "
                                     "candidate: too few; make more search data")
    loop = LoopConfig(steps=config.steps, lr=config.lr, warmup=config.warmup, weight_decay=config.weight_decay,
                      log_every=log_every, eval_every=config.eval_every, until=until, seed=config.seed,
                      label="training cross-encoder", progress=progress)
    outcome = fit(loop, CrossEncoderTask(config, train, held), out)
    return {"step": outcome.step, **outcome.evaluation, "proposers": group_ranks(None, held),
            "train_groups": len(train), "held_out_groups": len(held)}


__all__ = ["CrossEncoderConfig", "CrossEncoderTask", "CrossEncoderTrainError", "group_ranks", "listnet_loss",
           "patch_groups", "train_cross_encoder"]
