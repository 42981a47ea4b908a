"""``kelp train encoder``: train kelp's code bi-encoder (:mod:`kelp.models.code_encoder`)
contrastively on (docstring, code) pairs from the corpus (``kelp train corpus``).

Each pair is the first sentence of a function's docstring (the query) and the function's source
with that docstring removed (the document), the CodeSearchNet construction (Husain et al. 2019).
The loss is symmetric InfoNCE over the batch (every other pair's code is a negative), at a fixed
temperature. Functions from the modules in
:data:`~kelp.datasets.code_search.HELD_OUT_STDLIB` are never trained on: ``kelp
eval search`` measures retrieval on them (and on packages the corpus does not read).

Every step's batch comes from ``random.Random(f"{seed}:{step}")``, so a resumed run draws the
same data as an uninterrupted one. ``out`` holds ``settings.json``, ``metrics.jsonl``,
``curves.png`` and ``checkpoint/`` (the encoder plus optimizer and RNG state, safetensors and
JSON), all written by :func:`kelp.train.loop.fit`; :class:`EncoderTask` is what is specific to
this model.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from kelp.errors import KelpError
from kelp.datasets.code_search import HELD_OUT_STDLIB, held_out
from kelp.train.distributed import main_first
from kelp.train.loop import LoopConfig, Task, check_settings, fit


class EncoderTrainError(KelpError, ValueError):
    """Settings that cannot train, or a run directory holding a run with other settings."""


@dataclass
class EncoderTrainConfig:
    """Settings of ``kelp train encoder`` (saved as ``settings.json``)."""

    corpus: str = "runs/corpus"
    steps: int = 3000
    batch: int = 64
    lr: float = 5e-4
    warmup: int = 200
    weight_decay: float = 0.01
    temperature: float = 0.05
    vocab_size: int = 8192
    query_length: int = 32
    code_length: int = 128
    eval_every: int = 500
    eval_pairs: int = 1000
    seed: int = 0
    model: dict = field(default_factory=lambda: {"hidden": 256, "layers": 4, "heads": 4, "dim": 256})

    def check(self) -> None:
        """Raise :class:`EncoderTrainError` for settings that cannot train."""
        if self.steps < 1 or self.batch < 2:
            raise EncoderTrainError("steps must be >= 1 and batch >= 2 (in-batch negatives)")
        if not self.temperature > 0:
            raise EncoderTrainError(f"temperature must be > 0, got {self.temperature}")
        if self.eval_pairs < 2:
            raise EncoderTrainError("eval_pairs must be >= 2")


def training_pairs(corpus: Path, limit: int | None = None) -> list[tuple[str, str]]:
    """``(query, code)`` pairs from the corpus: functions with a docstring whose first sentence
    has at least 3 words, outside :data:`~kelp.datasets.code_search.HELD_OUT_STDLIB`; exact
    duplicates dropped; corpus order. Raises :class:`~kelp.train.corpus.CorpusError` for a
    missing corpus."""
    from kelp.program.docstrings import first_sentence, strip_docstring
    from kelp.program.tree import ProgramError
    from kelp.train.corpus import load_corpus

    pairs: dict[tuple[str, str], None] = {}
    for function in load_corpus(corpus):
        if not function.docstring or held_out(function.origin):
            continue
        query = first_sentence(function.docstring)
        if len(query.split()) < 3:
            continue
        try:
            code = strip_docstring(function.code)
        except ProgramError:
            continue
        pairs.setdefault((query, code), None)
        if limit is not None and len(pairs) >= limit:
            break
    return list(pairs)


def split_pairs(pairs: list[tuple[str, str]], eval_pairs: int, seed: int) -> tuple[list, list]:
    """``(train, validation)``: a seeded random ``eval_pairs`` of ``pairs`` are validation."""
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    held = set(order[:eval_pairs])
    return [p for i, p in enumerate(pairs) if i not in held], [pairs[i] for i in sorted(held)]


def info_nce(queries: torch.Tensor, codes: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE loss (scalar) of matched unit rows ``queries`` (B, D) and ``codes``
    (B, D): mean of the query->code and code->query cross-entropies over ``q @ c.T /
    temperature`` with the diagonal as targets."""
    logits = queries @ codes.T / temperature
    target = torch.arange(logits.size(0), device=logits.device)
    return 0.5 * (torch.nn.functional.cross_entropy(logits, target)
                  + torch.nn.functional.cross_entropy(logits.T, target))


def mrr_at_10(model, pairs: list[tuple[str, str]], config: EncoderTrainConfig) -> dict:
    """``{"mrr10", "recall1", "n"}`` of retrieving each pair's code among all ``pairs``' codes
    with its query."""
    q = model.embed([p[0] for p in pairs], max_length=config.query_length)
    c = model.embed([p[1] for p in pairs], max_length=config.code_length)
    scores = q @ c.T
    rank = (scores > scores.diag().unsqueeze(1)).sum(1) + 1  # 1-based rank of the true code
    rr = torch.where(rank <= 10, 1.0 / rank.float(), torch.zeros_like(rank, dtype=torch.float))
    return {"mrr10": round(rr.mean().item(), 4), "recall1": round((rank == 1).float().mean().item(), 4),
            "n": len(pairs)}


class EncoderTask(Task):
    """The code encoder's part of a run: seeded in-batch samples of ``train`` pairs, symmetric
    InfoNCE (:func:`info_nce`), validation MRR@10 on ``valid`` (:func:`mrr_at_10`). A fresh
    model gets a BPE tokenizer of ``config.vocab_size`` tokens trained on a seeded sample of
    20,000 training pairs."""

    headline = "mrr10"
    loss_label = "InfoNCE loss"
    series = (("mrr10", "validation MRR@10", "tab:red"),)

    def __init__(self, config: EncoderTrainConfig, train: list[tuple[str, str]], valid: list[tuple[str, str]]):
        self.config, self.train, self.valid = config, train, valid

    def build(self):
        from kelp.models.code_encoder import CodeEncoder, CodeEncoderConfig, train_tokenizer

        config = self.config
        sample = random.Random(config.seed).sample(self.train, min(len(self.train), 20000))
        tokenizer = train_tokenizer((text for pair in sample for text in pair), config.vocab_size)
        length = max(config.query_length, config.code_length)
        return CodeEncoder(CodeEncoderConfig(vocab_size=tokenizer.get_vocab_size(), max_length=length,
                                             **config.model), tokenizer)

    def load(self, checkpoint: Path, training: dict):
        from kelp.models.code_encoder import load_code_encoder

        return load_code_encoder(checkpoint)

    def state(self) -> dict:
        return {"config": asdict(self.config)}

    def batch(self, model, step: int) -> tuple[torch.Tensor, ...]:
        """``(query ids, query mask, code ids, code mask)``, each (batch, length)."""
        pairs = random.Random(f"{self.config.seed}:{step}").sample(self.train, self.config.batch)
        return (*model.tokenize([p[0] for p in pairs], self.config.query_length),
                *model.tokenize([p[1] for p in pairs], self.config.code_length))

    def loss(self, model, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        q_ids, q_mask, c_ids, c_mask = batch
        return info_nce(model(q_ids, q_mask), model(c_ids, c_mask), self.config.temperature)

    def evaluate(self, model) -> dict:
        return mrr_at_10(model, self.valid, self.config)

    def save(self, model, directory: Path, training: dict) -> None:
        from kelp.models.code_encoder import save_code_encoder

        save_code_encoder(directory, model, training)


def train_code_encoder(config: EncoderTrainConfig, out: Path, *, until: int | None = None, pair_limit: int | None = None,
                       progress: bool = True, log_every: int = 20) -> dict:
    """Train (or resume) into ``out`` with :func:`~kelp.train.loop.fit`; returns the last
    metrics with ``step`` and ``parameters``. ``until``: stop after that step on the schedule of
    ``config.steps``; ``pair_limit``: use only the first N corpus pairs (tests). Raises
    :class:`EncoderTrainError` for bad settings, too few pairs or a directory holding another
    run; :class:`~kelp.train.corpus.CorpusError` for a missing corpus."""
    config.check()
    out = Path(out)
    with main_first():  # under torchrun, rank 0 writes the settings first
        out.mkdir(parents=True, exist_ok=True)
        check_settings(out, asdict(config), EncoderTrainError)
    pairs = training_pairs(Path(config.corpus), pair_limit)
    if len(pairs) < config.batch + config.eval_pairs:
        raise EncoderTrainError(f"only {len(pairs)} training pairs; need more than batch + eval_pairs")
    train, valid = split_pairs(pairs, config.eval_pairs, config.seed)
    loop = LoopConfig(steps=config.steps, lr=config.lr, warmup=config.warmup, weight_decay=config.weight_decay,
                      log_every=log_every, eval_every=config.eval_every, until=until, seed=config.seed,
                      label="training code encoder", progress=progress)
    outcome = fit(loop, EncoderTask(config, train, valid), out)
    return {"step": outcome.step, "parameters": sum(p.numel() for p in outcome.model.parameters()),
            **outcome.evaluation}


__all__ = ["EncoderTask", "EncoderTrainConfig", "EncoderTrainError", "info_nce", "mrr_at_10",
           "split_pairs", "train_code_encoder", "training_pairs"]
