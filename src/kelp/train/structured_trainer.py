"""``kelp train structured``: a tiny causal LM on whole documents of one JSON Schema.

The corpus is split by repository (:func:`~kelp.datasets.workflows.load_split`);
the schema-aware codec is built from the training documents only. ``--tokens tct`` trains on
schema-aware tokens; ``--tokens bpe`` is the baseline: the same model size over a plain
byte-level BPE (HF ``tokenizers``) of the documents' YAML text with the same vocabulary size.

Each batch holds whole documents (sorted into length buckets, padded), never windows; documents
longer than ``max_len`` tokens are left out of training and counted in ``data.json``. The run
directory holds ``settings.json``, ``data.json``, ``metrics.jsonl``, ``curves.png``, the codec or
tokenizer, and ``checkpoint/`` (``save_pretrained`` + optimizer and RNG state); an interrupted
run resumes from its last checkpoint. The loop, checkpoints, metrics and progress are
:func:`kelp.train.loop.fit`'s; :class:`StructuredTask` is what is specific to this model.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tokenizers import Tokenizer

from kelp.errors import KelpError
from kelp.datasets.workflows import CorpusSplitError, load_split
from kelp.models.bpe_baseline import bpe_baseline_tokenizer, bpe_encode
from kelp.models.structured_lm import LMSize, load_lm, new_lm, sequence_nll
from kelp.structured.codec import SchemaCodec
from kelp.structured.vocab import BOS, EOS, PAD
from kelp.structured.workflow_yaml import dump_workflow
from kelp.train.distributed import main_first, world
from kelp.train.loop import LoopConfig, Task, check_settings, fit

__all__ = ["StructuredTask", "StructuredTrainError", "StructuredTrainConfig", "train_structured"]


class StructuredTrainError(KelpError, ValueError):
    """Bad settings, an unreadable corpus or schema, or a run directory holding another run."""


@dataclass
class StructuredTrainConfig:
    """Settings of one run (all saved in ``settings.json``)."""

    schema: str
    corpus: list[str]
    tokens: str = "tct"
    steps: int = 3000
    batch_tokens: int = 12288
    lr: float = 2e-3
    warmup: int = 100
    eval_every: int = 250
    eval_docs: int = 60
    seed: int = 0
    held_out_share: float = 0.15
    n_strings: int = 2048
    n_subwords: int = 2048
    size: dict = field(default_factory=lambda: asdict(LMSize()))

    def check(self) -> None:
        """Raise :class:`StructuredTrainError` for impossible settings."""
        if self.tokens not in ("tct", "bpe"):
            raise StructuredTrainError(f"--tokens must be tct or bpe, not {self.tokens!r}")
        if self.steps < 1 or self.batch_tokens < 64 or self.lr <= 0:
            raise StructuredTrainError("steps >= 1, batch_tokens >= 64 and lr > 0 are required")
        if self.n_strings < 0 or self.n_subwords < 256:
            raise StructuredTrainError("--strings must be >= 0 and --subwords >= 256 (the 256 single bytes)")


def _batches(lengths: list[int], batch_tokens: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    out, cur, width = [], [], 0
    for i in order:
        w = max(width, lengths[i])
        if cur and w * (len(cur) + 1) > batch_tokens:
            out.append(cur)
            cur, w = [], lengths[i]
        cur.append(i)
        width = w
    if cur:
        out.append(cur)
    return out


def _schedule(n_batches: int, steps: int, seed: int) -> list[int]:
    plan: list[int] = []
    epoch = 0
    while len(plan) < steps:
        perm = list(range(n_batches))
        random.Random(seed * 1000 + epoch).shuffle(perm)
        plan += perm
        epoch += 1
    return plan[:steps]


def _encode_all(config: StructuredTrainConfig, schema: dict, train: list, held: list, out: Path):
    max_len = config.size["max_len"]
    if config.tokens == "tct":
        codec_dir = out / "codec"
        if (codec_dir / "codec.json").exists():
            codec = SchemaCodec.load(codec_dir)
        else:
            codec = SchemaCodec.build(schema, [d.doc for d in train], n_strings=config.n_strings,
                                      n_subwords=config.n_subwords)
            codec.save(codec_dir)
        encode = lambda d: codec.encode(d.doc, validate=False)  # noqa: E731 (corpus docs are schema-valid)
        vocab_size = codec.vocab.size
    else:
        path = out / "tokenizer.json"
        if path.exists():
            tok = Tokenizer.from_file(str(path))
        else:
            size = SchemaCodec.build(schema, [d.doc for d in train], n_strings=config.n_strings,
                                     n_subwords=config.n_subwords).vocab.size
            tok = bpe_baseline_tokenizer([dump_workflow(d.doc) for d in train], size)
            tok.save(str(path))
        encode = lambda d: bpe_encode(tok, dump_workflow(d.doc))  # noqa: E731
        vocab_size = tok.get_vocab_size()
    train_ids = [encode(d) for d in train]
    held_ids = [encode(d) for d in held]
    kept = [s for s in train_ids if len(s) <= max_len]
    if world().main:
        (out / "data.json").write_text(json.dumps({
            "train_docs": len(train), "train_docs_used": len(kept), "train_docs_too_long": len(train) - len(kept),
            "train_tokens": sum(map(len, kept)), "held_out_docs": len(held),
            "held_out_repos": sorted({d.repo for d in held}), "vocab_size": vocab_size, "max_len": max_len,
        }, indent=2) + "\n")
    return kept, held_ids, vocab_size


class StructuredTask(Task):
    """The structured LM's part of a run: length-bucketed batches of whole documents in a seeded
    epoch order, the causal-LM loss (training rows also log ``tokens``, the non-padding tokens
    trained on), the held-out loss in nats per token. ``checkpoint/`` holds ``save_pretrained``'s
    files and ``state.json``."""

    headline = "held_out_nll_per_token"
    loss_label = "loss (nats/token)"

    def __init__(self, config: StructuredTrainConfig, train_ids: list[list[int]], eval_ids: list[list[int]],
                 vocab_size: int):
        self.config, self.train_ids, self.eval_ids, self.vocab_size = config, train_ids, eval_ids, vocab_size
        self.batches = _batches([len(s) for s in train_ids], config.batch_tokens)
        self.plan = _schedule(len(self.batches), config.steps, config.seed)

    def build(self):
        return new_lm(self.vocab_size, LMSize(**self.config.size), PAD, BOS, EOS, seed=self.config.seed)

    def load(self, checkpoint: Path, training: dict):
        return load_lm(checkpoint)

    def batch(self, model, step: int) -> dict[str, torch.Tensor]:
        """``input_ids``, ``attention_mask`` and ``labels`` (-100 on padding), (documents, longest)."""
        batch = [self.train_ids[i] for i in self.batches[self.plan[step]]]
        width = max(map(len, batch))
        ids = torch.full((len(batch), width), PAD, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for i, s in enumerate(batch):
            ids[i, :len(s)] = torch.tensor(s)
            attention[i, :len(s)] = 1
        return {"input_ids": ids, "attention_mask": attention, "labels": ids.masked_fill(attention == 0, -100)}

    def loss(self, model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        return model(**batch).loss, {"tokens": int(batch["attention_mask"].sum())}

    def evaluate(self, model) -> dict:
        nll, n = 0.0, 0
        for i in range(0, len(self.eval_ids), 8):
            chunk = self.eval_ids[i:i + 8]
            nll += sum(sequence_nll(model, chunk, PAD))
            n += sum(len(s) - 1 for s in chunk)
        return {"held_out_nll_per_token": nll / n if n else None}  # None: no held-out documents

    def save(self, model, directory: Path, training: dict) -> None:
        model.save_pretrained(str(directory))
        (directory / "state.json").write_text(json.dumps(training))


def train_structured(config: StructuredTrainConfig, out: Path, *, until: int | None = None) -> dict:
    """Train (or resume) one run with :func:`~kelp.train.loop.fit`; returns the last held-out
    metrics with ``step`` (``{}`` when the run had already reached its last step).

    ``until``: stop after this step (a test can train a few steps of a longer schedule).
    Raises :class:`StructuredTrainError` for bad settings or data.
    """
    config.check()
    out = Path(out)
    with main_first():  # under torchrun, rank 0 writes the settings first
        out.mkdir(parents=True, exist_ok=True)
        check_settings(out, asdict(config), StructuredTrainError)
    try:
        schema = json.loads(Path(config.schema).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise StructuredTrainError(f"cannot read the schema {config.schema}: {error}") from None
    try:
        train, held = load_split(schema, config.corpus, config.held_out_share, config.seed)
    except CorpusSplitError as error:
        raise StructuredTrainError(str(error)) from None
    with main_first():  # under torchrun, rank 0 builds the codec or tokenizer first
        train_ids, held_ids, vocab_size = _encode_all(config, schema, train, held, out)
    if not train_ids:
        raise StructuredTrainError("no training document fits in max_len tokens")
    eval_ids = [s for s in held_ids if len(s) <= config.size["max_len"]]
    eval_ids = random.Random(config.seed).sample(eval_ids, min(config.eval_docs, len(eval_ids)))
    loop = LoopConfig(steps=config.steps, lr=config.lr, warmup=config.warmup, lr_floor=0.05, betas=(0.9, 0.98),
                      weight_decay=0.01, log_every=1, eval_every=config.eval_every, until=until, seed=config.seed,
                      label=f"train {config.tokens}", state_file="state.json")
    outcome = fit(loop, StructuredTask(config, train_ids, eval_ids, vocab_size), out)
    return {"step": outcome.step, **outcome.evaluation} if outcome.evaluation else {}
