"""``kelp train encoder``: train kelp's code bi-encoder (:mod:`kelp.models.code_encoder`)
contrastively on (docstring, code) pairs from the corpus (``kelp train corpus``).

Each pair is the first sentence of a function's docstring (the query) and the function's source
with that docstring removed (the document), the CodeSearchNet construction (Husain et al. 2019).
The loss is symmetric InfoNCE over the batch (every other pair's code is a negative), at a fixed
temperature. Functions from the modules in
:data:`~kelp.datasets.code_search.HELD_OUT_STDLIB` are never trained on: ``kelp
eval search`` measures retrieval on them (and on packages the corpus does not read).

Every step's batch comes from ``random.Random((seed, step))``, so a resumed run draws the same
data as an uninterrupted one. ``out`` holds ``settings.json``, ``metrics.jsonl``,
``curves.png`` and ``checkpoint/`` (the encoder plus optimizer state, safetensors and JSON).
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from kelp.errors import KelpError
from kelp.datasets.code_search import HELD_OUT_STDLIB, held_out
from kelp.train.run_dir import (check_settings, plot_curves, restore_training_state, save_training_state,
                                truncate_metrics, warmup_cosine)


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


def train_code_encoder(config: EncoderTrainConfig, out: Path, *, until: int | None = None, pair_limit: int | None = None,
                       progress: bool = True, log_every: int = 20) -> dict:
    """Train (or resume) into ``out``; returns the last metrics with ``step`` and
    ``parameters``. ``until``: stop after that step on the schedule of ``config.steps``;
    ``pair_limit``: use only the first N corpus pairs (tests). Raises
    :class:`EncoderTrainError` for bad settings, too few pairs or a directory holding another
    run; :class:`~kelp.train.corpus.CorpusError` for a missing corpus."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from kelp.models.code_encoder import (CodeEncoder, CodeEncoderConfig, load_code_encoder, save_code_encoder,
                                          train_tokenizer)

    config.check()
    out.mkdir(parents=True, exist_ok=True)
    settings = asdict(config)
    check_settings(out, settings, EncoderTrainError)
    pairs = training_pairs(Path(config.corpus), pair_limit)
    if len(pairs) < config.batch + config.eval_pairs:
        raise EncoderTrainError(f"only {len(pairs)} training pairs; need more than batch + eval_pairs")
    train, valid = split_pairs(pairs, config.eval_pairs, config.seed)
    checkpoint = out / "checkpoint"
    step = 0
    torch.manual_seed(config.seed)
    if (checkpoint / "training.json").exists():
        model = load_code_encoder(checkpoint)
        step = json.loads((checkpoint / "training.json").read_text())["step"]
    else:
        sample = random.Random(config.seed).sample(train, min(len(train), 20000))
        tokenizer = train_tokenizer((text for pair in sample for text in pair), config.vocab_size)
        length = max(config.query_length, config.code_length)
        model = CodeEncoder(CodeEncoderConfig(vocab_size=tokenizer.get_vocab_size(), max_length=length,
                                              **config.model), tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if step:
        restore_training_state(checkpoint, optimizer)
    metrics_path = out / "metrics.jsonl"
    truncate_metrics(metrics_path, step)
    model.train()
    last = min(config.steps, until or config.steps)
    last_eval: dict = {}
    started, losses = time.monotonic(), []
    with Progress(TextColumn("training code encoder"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"), TimeRemainingColumn(), disable=not progress) as bar:
        job = bar.add_task("train", total=last, completed=step, info="")
        while step < last:
            batch = random.Random(f"{config.seed}:{step}").sample(train, config.batch)
            q_ids, q_mask = model.tokenize([p[0] for p in batch], config.query_length)
            c_ids, c_mask = model.tokenize([p[1] for p in batch], config.code_length)
            for group in optimizer.param_groups:
                group["lr"] = warmup_cosine(step, config.lr, config.warmup, config.steps)
            loss = info_nce(model(q_ids, q_mask), model(c_ids, c_mask), config.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
            step += 1
            if step % log_every == 0:
                row = {"step": step, "loss": round(sum(losses) / len(losses), 4),
                       "seconds": round(time.monotonic() - started, 1)}
                losses = []
                with metrics_path.open("a") as sink:
                    sink.write(json.dumps(row) + "\n")
                bar.update(job, info=f"loss {row['loss']:.3f} val MRR@10 {last_eval.get('mrr10', 0):.3f}")
            if step % config.eval_every == 0 or step == last:
                last_eval = mrr_at_10(model, valid, config)
                model.train()
                with metrics_path.open("a") as sink:
                    sink.write(json.dumps({"step": step, **last_eval}) + "\n")
                save_code_encoder(checkpoint, model, {"step": step, "config": settings})
                save_training_state(checkpoint, optimizer)
                plot_curves(metrics_path, out / "curves.png", "InfoNCE loss",
                            [("mrr10", "validation MRR@10", "tab:red")])
            bar.update(job, completed=step)
    return {"step": step, "parameters": sum(p.numel() for p in model.parameters()), **last_eval}


__all__ = ["EncoderTrainConfig", "EncoderTrainError", "info_nce", "mrr_at_10",
           "split_pairs", "train_code_encoder", "training_pairs"]
