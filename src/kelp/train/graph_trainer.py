"""``kelp train graph``: train the graph denoiser on its own predictions (scheduled sampling).

Each example is a clean program (a corpus function, or an MBPP train-split task with its asserts)
whose token slots are noised at a rate drawn from U(``rate_low``, ``rate_high``)
(:func:`kelp.corrupt.token_noise.noise`). The seed experiments trained on noised states only and
then fed the model its own predictions at inference, where iterating made programs worse. Here,
with a probability that ramps up to ``ss_max`` over the first ``ss_ramp`` of training, an example
is first rolled forward ``d`` iterations (``d`` uniform in 1..``iterations``-1) by the current
model itself (no gradient); the model then learns to predict the original tokens from that state,
with the iteration number, the previous iteration's tokens and (for programs with tests) the
test signal of that state. This is scheduled sampling (Bengio et al. 2015, "Scheduled Sampling
for Sequence Prediction with Recurrent Neural Networks"), the fix the seed experiments proposed
and never ran. Intermediate rollout states see no test signal; only the state trained on is run
against its tests (one sandbox run per example with tests instead of one per iteration).

``test_guided``: slots on lines the tests implicate weigh ``1 + suspiciousness`` in the loss.

Every step's examples come from ``random.Random((seed, step))``, so a resumed run draws the same
data as an uninterrupted one; checkpoints (model, optimizer, RNG) are safetensors and JSON.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch_geometric.data import Batch

from kelp.errors import KelpError
from kelp.corrupt.errors import CorruptionError
from kelp.corrupt.token_noise import apply_tokens, noise
from kelp.models.graph_features import GraphVocab, program_graph
from kelp.models.graph_model import GraphDenoiser, GraphModelConfig, load_graph_checkpoint, save_graph_checkpoint
from kelp.program.tree import ProgramError, parse, unparse
from kelp.repair.refine import SIGNALS, signal_lines
from kelp.train.run_dir import (check_settings, plot_curves, restore_training_state, save_training_state,
                                truncate_metrics, warmup_cosine)


class GraphTrainError(KelpError, ValueError):
    """A run directory holding other settings, or settings that cannot train."""


@dataclass
class GraphTrainConfig:
    """Settings of ``kelp train graph`` (saved as ``settings.json``)."""

    corpus: str = "runs/corpus"
    steps: int = 4000
    batch: int = 32
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.01
    mbpp_share: float = 0.3
    rate_low: float = 0.05
    rate_high: float = 0.85
    mask_prob: float = 0.2
    iterations: int = 5
    ss_max: float = 0.95
    ss_ramp: float = 0.5
    signal: str = "ochiai"
    test_guided: bool = False
    corrupted_weight: float = 2.0
    eval_every: int = 250
    eval_tasks: int = 40
    seed: int = 0
    vocab_tokens: int = 2000
    model: dict = field(default_factory=lambda: {"hidden": 128, "layers": 4, "heads": 4, "conv": "gat"})

    def check(self) -> None:
        """Raise :class:`GraphTrainError` for settings that cannot train."""
        if self.signal not in SIGNALS:
            raise GraphTrainError(f"unknown signal {self.signal!r}; choose one of {', '.join(SIGNALS)}")
        if not 0.0 <= self.rate_low <= self.rate_high <= 1.0:
            raise GraphTrainError(f"need 0 <= rate_low <= rate_high <= 1, got {self.rate_low}, {self.rate_high}")
        if not 0.0 <= self.ss_max <= 1.0 or not 0.0 < self.ss_ramp <= 1.0:
            raise GraphTrainError("ss_max must be in [0, 1] and ss_ramp in (0, 1]")
        from kelp.models.graph_model import CONVS

        if self.model.get("conv", "gat") not in CONVS:
            raise GraphTrainError(f"unknown conv {self.model.get('conv')!r}; choose one of {', '.join(CONVS)}")
        if self.iterations < 1 or self.steps < 1 or self.batch < 1:
            raise GraphTrainError("iterations, steps and batch must be >= 1")


@dataclass
class Source:
    """A clean training program and, for MBPP tasks, its test suite."""

    code: str
    suite: object = None


def sampling_probability(step: int, config: GraphTrainConfig) -> float:
    """Probability of rolling an example forward with the model at ``step`` (linear ramp)."""
    return config.ss_max * min(1.0, step / max(1.0, config.ss_ramp * config.steps))


def load_sources(corpus: Path, limit: int | None = None) -> tuple[list[Source], list[Source]]:
    """``(corpus functions, MBPP train tasks)`` that parse and have token slots."""
    from kelp.datasets.loaders import load_mbpp
    from kelp.train.corpus import load_corpus

    functions = [Source(f.code) for f in load_corpus(corpus)[:limit]]
    tasks = [Source(p.code, p.suite()) for p in load_mbpp("train")]
    return functions, tasks


def build_vocab(functions: list[Source], tasks: list[Source], config: GraphTrainConfig) -> GraphVocab:
    """The token vocabulary from a seeded sample of the corpus plus every MBPP train task."""
    sample = random.Random(config.seed).sample(functions, min(len(functions), 20000))
    return GraphVocab.build([s.code for s in sample] + [t.code for t in tasks], max_tokens=config.vocab_tokens)


@dataclass
class _Rollout:
    """One example on its way: the clean ``source``, its ``noised`` version, the current
    ``tree`` and slot ``tokens`` after ``depth`` model iterations, and the tokens before the last
    one (``previous``; None before any)."""

    source: Source
    noised: object
    tree: object
    tokens: list
    previous: list | None
    depth: int


class ExampleMaker:
    """Draws one step's training graphs (see the module doc); ``model`` rolls examples forward."""

    def __init__(self, functions: list[Source], tasks: list[Source], vocab: GraphVocab, config: GraphTrainConfig,
                 sandbox=None):
        self.functions, self.tasks, self.vocab, self.config = functions, tasks, vocab, config
        self.sandbox = sandbox
        self.frequent = {"name": vocab.frequent.get("ident", [])[:64], "attr": vocab.frequent.get("attr", [])[:64],
                         "const": vocab.frequent.get("const", [])[:64]}

    def _noised(self, rng: random.Random):
        while True:
            pool = self.tasks if self.tasks and rng.random() < self.config.mbpp_share else self.functions
            source = pool[rng.randrange(len(pool))]
            try:
                tree = parse(source.code)
                noised = noise(tree, rng.uniform(self.config.rate_low, self.config.rate_high), rng,
                               self.config.mask_prob, self.frequent)
            except (ProgramError, CorruptionError, RecursionError):
                continue
            return source, noised

    def batch(self, model: GraphDenoiser, step: int) -> list:
        """``config.batch`` graphs with ``slot_target`` (and ``slot_weight`` when test-guided)."""
        config = self.config
        rng = random.Random(f"{config.seed}:{step}")
        p_roll = sampling_probability(step, config)
        states = []
        for _ in range(config.batch):
            source, noised = self._noised(rng)
            depth = rng.randint(1, config.iterations - 1) if config.iterations > 1 and rng.random() < p_roll else 0
            states.append(_Rollout(source, noised, noised.tree, list(noised.noisy), None, depth))
        was_training = model.training
        model.eval()
        for it in range(max((s.depth for s in states), default=0)):
            rolling = [s for s in states if s.depth > it]
            graphs = [program_graph(s.tree, self.vocab, previous_tokens=s.previous, iteration=it) for s in rolling]
            predicted, _ = model.predict(Batch.from_data_list(graphs))
            for s, tokens in zip(rolling, predicted):
                s.tree, s.previous, s.tokens = apply_tokens(s.tree, s.noised.slots, tokens), s.tokens, tokens
        model.train(was_training)
        graphs = []
        for s, lines in zip(states, self._signals(states)):
            graph = program_graph(s.tree, self.vocab, previous_tokens=s.previous, iteration=s.depth, signal=lines,
                                  target_tokens=s.noised.original)
            if config.test_guided:
                graph.slot_weight = 1.0 + graph.x_signal[graph.slot_node]
            graphs.append(graph)
        return graphs

    def _signals(self, states: list[_Rollout]) -> list[dict]:
        """Test signal of each rolled-forward state whose program has tests."""
        out: list[dict] = [{} for _ in states]
        if self.sandbox is None or self.config.signal == "none":
            return out
        from kelp.execute.results import Job

        todo = [i for i, s in enumerate(states) if s.source.suite is not None and s.depth > 0]
        if todo:
            jobs = [Job(unparse(states[i].tree), states[i].source.suite, coverage=True) for i in todo]
            for i, run in zip(todo, self.sandbox.run_many(jobs)):
                out[i] = signal_lines(run, self.config.signal)
        return out


def train_graph_model(config: GraphTrainConfig, out: Path, *, progress: bool = True, log_every: int = 20,
                      until: int | None = None, function_limit: int | None = None) -> dict:
    """Train (or resume) the graph denoiser into ``out``; returns the last held-out evaluation.

    ``out`` gets ``settings.json``, ``vocab.json``, ``metrics.jsonl``, ``curves.png`` and
    ``checkpoint/`` (:func:`~kelp.models.graph_model.save_graph_checkpoint` plus
    ``optimizer.safetensors`` and ``rng.safetensors``). ``until``: stop after that step with the
    schedule of ``config.steps``. ``function_limit``: use only the first N corpus functions
    (tests). Raises :class:`GraphTrainError` for bad settings or a directory holding a run with
    other settings, :class:`~kelp.train.corpus.CorpusError` for a missing corpus."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from kelp.execute.sandbox import Limits, Sandbox
    config.check()
    out.mkdir(parents=True, exist_ok=True)
    settings = asdict(config)
    check_settings(out, settings, GraphTrainError)
    functions, tasks = load_sources(Path(config.corpus), function_limit)
    vocab_path = out / "vocab.json"
    if vocab_path.exists():
        vocab = GraphVocab.from_json(vocab_path.read_text())
    else:
        vocab = build_vocab(functions, tasks, config)
        vocab_path.write_text(vocab.to_json())
    checkpoint = out / "checkpoint"
    step = 0
    torch.manual_seed(config.seed)
    if (checkpoint / "training.json").exists():
        model, vocab, training = load_graph_checkpoint(checkpoint)
        step = training["step"]
    else:
        model = GraphDenoiser(GraphModelConfig.from_vocab(vocab, **config.model))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if step:
        restore_training_state(checkpoint, optimizer)
    metrics_path = out / "metrics.jsonl"
    truncate_metrics(metrics_path, step)
    model.train()
    last_eval: dict = {}
    with Sandbox(workers=2, limits=Limits(test_timeout=1.0)) as sandbox:
        maker = ExampleMaker(functions, tasks, vocab, config, sandbox)
        last = min(config.steps, until or config.steps)
        started, losses = time.monotonic(), []
        with Progress(TextColumn("training graph denoiser"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[info]}"), TimeRemainingColumn(), disable=not progress) as bar:
            job = bar.add_task("train", total=last, completed=step, info="")
            while step < last:
                graphs = maker.batch(model, step)
                for group in optimizer.param_groups:
                    group["lr"] = warmup_cosine(step, config.lr, config.warmup, config.steps)
                loss = model.loss(Batch.from_data_list(graphs), config.corrupted_weight)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                losses.append(loss.item())
                step += 1
                if step % log_every == 0:
                    row = {"step": step, "loss": round(sum(losses) / len(losses), 4),
                           "sampling": round(sampling_probability(step, config), 3),
                           "seconds": round(time.monotonic() - started, 1)}
                    losses = []
                    with metrics_path.open("a") as sink:
                        sink.write(json.dumps(row) + "\n")
                    bar.update(job, info=f"loss {row['loss']:.3f} held-out {last_eval.get('final', 0):.0%}")
                if step % config.eval_every == 0 or step == last:
                    last_eval = evaluate_held_out(model, vocab, sandbox, config)
                    model.train()
                    with metrics_path.open("a") as sink:
                        sink.write(json.dumps({"step": step, **last_eval}) + "\n")
                    save_graph_checkpoint(checkpoint, model, vocab, {"step": step, "config": settings})
                    save_training_state(checkpoint, optimizer)
                    plot_curves(metrics_path, out / "curves.png", "loss",
                                [(key, f"held-out {key}", color) for key, color in
                                 (("one_shot", "tab:orange"), ("final", "tab:red"), ("passed", "tab:green"))])
                bar.update(job, completed=step)
    return {"step": step, "parameters": sum(p.numel() for p in model.parameters()), **last_eval}


def evaluate_held_out(model: GraphDenoiser, vocab: GraphVocab, sandbox, config: GraphTrainConfig) -> dict:
    """One-shot and final accuracy over corrupted slots and the all-tests-pass rate on the first
    ``config.eval_tasks`` MBPP validation tasks noised at 50%, by ``kelp eval refine``'s own
    procedure (:func:`~kelp.repair.refine.refine_noised_task`, scored by
    :func:`~kelp.repair.refine.pooled_accuracy`; values rounded to 4 places)."""
    from kelp.datasets.loaders import load_mbpp
    from kelp.repair.refine import pooled_accuracy, refine_noised_task

    model.eval()
    records: list[dict] = []
    for problem in load_mbpp("validation"):
        if len(records) >= config.eval_tasks:
            break
        record = refine_noised_task(model, vocab, problem, sandbox, rate=0.5, iterations=config.iterations,
                                    signal=config.signal, seed=config.seed)
        if record is not None:
            records.append(record)
    if not records:
        return {"one_shot": 0.0, "final": 0.0, "passed": 0.0, "n": 0}
    one_shot, final, passed = pooled_accuracy(records)
    return {"one_shot": round(one_shot, 4), "final": round(final, 4), "passed": round(passed, 4),
            "n": len(records)}


__all__ = ["GraphTrainConfig", "GraphTrainError", "ExampleMaker", "sampling_probability", "train_graph_model",
           "evaluate_held_out", "load_sources", "build_vocab"]
