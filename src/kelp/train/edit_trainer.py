"""`kelp train edit`: train the edit model on CPU, streaming examples, resumable.

Examples are synthesised as training goes (``examples.py``): corpus functions without tests,
and MBPP train-split tasks whose tests run in the sandbox to fill the feedback section. Every
``eval_every`` steps the model repairs held-out MBPP validation tasks (one greedy edit, checked
by the tests: a repair rate, not only a token loss), and a checkpoint is written; a rerun of the
same command resumes from it (model, optimizer, data-stream state). The loop, checkpoints,
``metrics.jsonl`` and ``curves.png`` (loss and held-out repair rate) are
:func:`kelp.train.loop.fit`'s; :class:`EditTask` is what is specific to this model.
"""

from __future__ import annotations

import queue
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from kelp.errors import KelpError
from kelp.models.edit_format import build_prompt, decode_edit, render_program
from kelp.models.edit_model import (
    ModelSize,
    bf16_autocast,
    build_model,
    load_checkpoint,
    parameter_count,
    save_checkpoint,
    size_from_json,
)
from kelp.models.tokenizer import load_tokenizer, special_id, train_tokenizer
from kelp.train.corpus import load_corpus
from kelp.train.examples import (
    EditExample,
    ExampleConfig,
    sample_example,
    sandbox_feedback,
)
from kelp.train.distributed import main_first
from kelp.train.loop import LoopConfig, Task, check_settings, fit


class TrainError(KelpError, ValueError):
    """Bad training settings, or an output directory that belongs to another run."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (saved in ``training.json``).

    ``steps``: optimizer steps; ``batch``: examples per step; ``lr``: peak AdamW learning rate
    (linear warm-up over ``warmup`` steps, cosine decay to 10%); ``mbpp_share``: fraction of
    examples from MBPP train tasks (with tests and feedback), the rest from the corpus;
    ``eval_every``: steps between held-out evaluations and checkpoints; ``eval_tasks``: MBPP
    validation tasks in that evaluation."""

    corpus: str = "runs/corpus"
    steps: int = 2000
    batch: int = 16
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.01
    mbpp_share: float = 0.3
    eval_every: int = 200
    eval_tasks: int = 40
    seed: int = 0
    vocab: int = 4096
    size: dict = field(default_factory=lambda: asdict(ModelSize()))


def encode_example(example: EditExample, tokenizer, max_len: int) -> tuple[list[int], list[int]] | None:
    """``(input_ids, labels)`` with the loss on the target only (prompt labels are -100);
    ``None`` when prompt + target exceed ``max_len`` tokens."""
    prompt = tokenizer.encode(example.prompt).ids
    target = tokenizer.encode(example.target).ids + [special_id(tokenizer, "<eos>")]
    if len(prompt) + len(target) > max_len:
        return None
    return prompt + target, [-100] * len(prompt) + target


def collate(pairs: list[tuple[list[int], list[int]]]) -> dict[str, torch.Tensor]:
    """Right-pad a batch: ``input_ids``, ``attention_mask``, ``labels`` of shape (batch, longest)."""
    width = max(len(ids) for ids, _ in pairs)
    ids = torch.zeros(len(pairs), width, dtype=torch.long)
    mask = torch.zeros(len(pairs), width, dtype=torch.long)
    labels = torch.full((len(pairs), width), -100, dtype=torch.long)
    for row, (x, y) in enumerate(pairs):
        ids[row, :len(x)] = torch.tensor(x)
        mask[row, :len(x)] = 1
        labels[row, :len(y)] = torch.tensor(y)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


class ExampleStream:
    """Endless seeded examples: corpus functions and MBPP train tasks with sandbox feedback.
    ``state()`` / ``restore()`` save the position as JSON-ready data."""

    def __init__(self, corpus: list, mbpp: list, sandbox, seed: int, mbpp_share: float):
        self.corpus, self.mbpp, self.sandbox = corpus, mbpp, sandbox
        self.mbpp_share = mbpp_share
        self.rng = random.Random(seed)
        self._suites: dict = {}

    def __iter__(self):
        return self

    def __next__(self) -> EditExample:
        while True:
            if self.mbpp and self.rng.random() < self.mbpp_share:
                problem = self.mbpp[self.rng.randrange(len(self.mbpp))]
                suite = self._suites.setdefault(problem.task_id, problem.suite())
                example = sample_example(problem.code, self.rng, ExampleConfig(), intent=problem.text,
                                         tests=list(problem.tests), feedback=sandbox_feedback(self.sandbox, suite))
            else:
                function = self.corpus[self.rng.randrange(len(self.corpus))]
                example = sample_example(function.code, self.rng, ExampleConfig(), intent=function.docstring)
            if example is not None:
                return example

    def state(self) -> list:
        """The RNG state as nested lists (JSON-ready)."""
        version, internal, gauss = self.rng.getstate()
        return [version, list(internal), gauss]

    def restore(self, state: list) -> None:
        """Inverse of :meth:`state`."""
        self.rng.setstate((state[0], tuple(state[1]), state[2]))


def held_out_tasks(sandbox, n: int, seed: int = 0) -> list:
    """The first ``n`` MBPP validation tasks (511-600) that a seeded one-mutation corruption
    breaks (the eval's must-break filter), as ``(problem, RepairTask)``."""
    from kelp.datasets.tasks import first_broken_mbpp

    return [(problem, prepared.task) for problem, prepared in first_broken_mbpp("validation", sandbox, n, seed=seed)]


@torch.no_grad()
def greedy_edit(model, tokenizer, prompt: str, max_new: int = 96) -> str:
    """The model's single most likely edit text for ``prompt`` (greedy, KV-cached)."""
    ids = torch.tensor([tokenizer.encode(prompt).ids])
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new, do_sample=False,
                         eos_token_id=[special_id(tokenizer, "<eos>"), special_id(tokenizer, "<end>")],
                         pad_token_id=0)
    return tokenizer.decode(out[0, ids.shape[1]:].tolist(), skip_special_tokens=False)


def repair_rate(model, tokenizer, tasks: list, sandbox, context: int) -> dict:
    """One greedy edit per held-out task, checked by its tests: ``{"repaired", "valid", "n"}``
    (``valid``: the text decoded to an edit that applies)."""
    from kelp.program.tree import unparse

    model.eval()
    repaired = valid = 0
    for problem, task in tasks:
        messages, susp = sandbox_feedback(sandbox, task.suite)(task.source)
        rendered = render_program(task.source, susp)
        prompt = build_prompt(rendered, problem.text, list(problem.tests), messages)
        if len(tokenizer.encode(prompt).ids) + 8 > context:
            continue
        text = greedy_edit(model, tokenizer, prompt)
        try:
            edit = decode_edit(text.split("<eos>")[0], rendered)
        except ValueError:
            continue
        valid += 1
        run = sandbox.run(unparse(edit.apply(rendered.tree)), task.suite)
        repaired += run.status == "ok" and run.all_passed
    model.train()
    return {"repaired": repaired / max(len(tasks), 1), "valid": valid / max(len(tasks), 1), "n": len(tasks)}


#: Batches drawn at once and grouped by length, so a batch pads to a similar length.
BUCKET_BATCHES = 4


def _bucketed_batches(stream: ExampleStream, tokenizer, context: int, batch: int) -> list:
    """``BUCKET_BATCHES`` batches from the stream, grouped by length (sorted, then cut), in an
    order drawn from the stream's RNG; padding waste falls from about 2x to a few percent."""
    pairs = []
    while len(pairs) < batch * BUCKET_BATCHES:
        encoded = encode_example(next(stream), tokenizer, context)
        if encoded is not None:
            pairs.append(encoded)
    pairs.sort(key=lambda pair: len(pair[0]))
    batches = [pairs[i:i + batch] for i in range(0, len(pairs), batch)]
    stream.rng.shuffle(batches)
    return batches


class Prefetcher:
    """Draws bucketed batch groups from ``stream`` in a background thread, so corruption and
    sandbox runs overlap the model's forward and backward passes (PyTorch releases the GIL).

    Each group comes with the stream state it was drawn from, so a checkpoint can record
    ``(state, batches consumed)`` and a resumed run redraws exactly the same batches. An error in
    the thread is raised again by :meth:`next_group`."""

    def __init__(self, stream: ExampleStream, tokenizer, context: int, batch: int, depth: int = 2):
        import threading

        self.stream, self.tokenizer, self.context, self.batch = stream, tokenizer, context, batch
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kelp-examples", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                state = self.stream.state()
                item = (state, _bucketed_batches(self.stream, self.tokenizer, self.context, self.batch))
            except Exception as exc:  # noqa: BLE001 - handed to the consumer
                item = exc
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if isinstance(item, Exception):
                return

    def next_group(self) -> tuple[list, list]:
        """``(stream state before the group, batches)``."""
        item = self._queue.get()
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        """Stop the thread (waits for the example it is drawing)."""
        self._stop.set()
        self._thread.join()


class EditTask(Task):
    """The edit model's part of a run: batches from a :class:`Prefetcher` over the example
    stream, the token loss on targets (bf16 autocast where supported), the held-out repair rate.

    Its ``training.json`` records the stream state the current batch group was drawn from and
    how many of its batches were trained on (``stream``, ``consumed``), so a resumed run redraws
    the group and continues with the next batch. :meth:`close` stops the prefetch thread."""

    headline = "repaired"
    loss_label = "loss (target tokens)"
    series = (("repaired", "held-out repair rate (1 greedy edit)", "tab:red"),)
    right_label = "repair rate"

    def __init__(self, config: TrainConfig, tokenizer, stream: ExampleStream, sandbox, tasks: list):
        self.config, self.tokenizer, self.stream, self.sandbox, self.tasks = config, tokenizer, stream, sandbox, tasks
        self.size = size_from_json(config.size)
        self.prefetch: Prefetcher | None = None
        self.position: dict = {"stream": None, "consumed": 0}  # where the batch being trained on was drawn
        self.group: list = []
        self.skip = 0

    def build(self):
        return build_model(self.tokenizer.get_vocab_size(), self.size, self.config.seed)

    def load(self, checkpoint: Path, training: dict):
        return load_checkpoint(checkpoint)[0]

    def restore(self, training: dict) -> None:
        self.stream.restore(training["stream"])
        self.skip = training.get("consumed", 0)

    def state(self) -> dict:
        return {**self.position, "config": asdict(self.config)}

    def batch(self, model, step: int) -> dict[str, torch.Tensor]:
        if self.prefetch is None:  # started after restore(), so it draws from the restored stream
            self.prefetch = Prefetcher(self.stream, self.tokenizer, self.size.context, self.config.batch)
        while self.position["consumed"] == len(self.group):  # a resumed group may be used up
            self.position["stream"], self.group = self.prefetch.next_group()
            self.position["consumed"], self.skip = min(self.skip, len(self.group)), 0
        pairs = self.group[self.position["consumed"]]
        self.position["consumed"] += 1
        return collate(pairs)

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with bf16_autocast():
            return model(**batch).loss

    def evaluate(self, model) -> dict:
        return repair_rate(model, self.tokenizer, self.tasks, self.sandbox, self.size.context)

    def save(self, model, directory: Path, training: dict) -> None:
        save_checkpoint(directory, model, self.tokenizer, training)

    def close(self) -> None:
        """Stop the prefetch thread, if started."""
        if self.prefetch is not None:
            self.prefetch.close()


def _tokenizer(out: Path, corpus: list, mbpp: list, config: TrainConfig):
    """``out/tokenizer.json``, trained first (BPE of ``config.vocab`` tokens over a seeded
    sample of 20,000 corpus functions and every MBPP train task with its tests) when missing."""
    if (out / "tokenizer.json").exists():
        return load_tokenizer(out)
    sample = random.Random(config.seed).sample(corpus, min(len(corpus), 20000))
    tokenizer = train_tokenizer([f.code for f in sample] + [p.code + "\n" + "\n".join(p.tests) for p in mbpp],
                                config.vocab)
    tokenizer.save(str(out / "tokenizer.json"))
    return tokenizer


def train_edit_model(config: TrainConfig, out: Path, *, progress: bool = True, log_every: int = 20,
                     until: int | None = None) -> dict:
    """Train (or resume) into ``out`` with :func:`~kelp.train.loop.fit`; returns the last
    held-out evaluation with ``step`` and ``parameters``.

    ``until``: stop after this step (evaluated and checkpointed) with the learning-rate schedule
    still that of ``config.steps``, so a checkpoint taken part-way is reproducible by command;
    a later run without it resumes to ``config.steps``.

    Raises :class:`TrainError` when ``out`` holds a run with different settings and
    :class:`~kelp.train.corpus.CorpusError` when the corpus is missing."""
    from kelp.datasets.loaders import load_mbpp
    from kelp.execute.sandbox import Limits, Sandbox

    out = Path(out)
    with main_first():  # under torchrun, rank 0 writes the settings and the tokenizer first
        out.mkdir(parents=True, exist_ok=True)
        check_settings(out, asdict(config), TrainError)
        corpus = load_corpus(Path(config.corpus))
        mbpp = load_mbpp("train")
        tokenizer = _tokenizer(out, corpus, mbpp, config)
    loop = LoopConfig(steps=config.steps, lr=config.lr, warmup=config.warmup, lr_floor=0.1,
                      weight_decay=config.weight_decay, log_every=log_every, eval_every=config.eval_every,
                      until=until, seed=config.seed, label="training edit model", progress=progress)
    with Sandbox(workers=1, limits=Limits(test_timeout=1.0)) as sandbox, \
            Sandbox(workers=1, limits=Limits(test_timeout=1.0)) as stream_sandbox:
        stream = ExampleStream(corpus, mbpp, stream_sandbox, config.seed, config.mbpp_share)
        task = EditTask(config, tokenizer, stream, sandbox, held_out_tasks(sandbox, config.eval_tasks, config.seed))
        try:
            outcome = fit(loop, task, out)
        finally:
            task.close()
    return {"step": outcome.step, "parameters": parameter_count(outcome.model), **outcome.evaluation}
