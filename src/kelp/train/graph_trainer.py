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

Every step's examples come from ``random.Random(f"{seed}:{step}")``, so a resumed run draws the
same data as an uninterrupted one. The loop, checkpoints (model, optimizer, RNG: safetensors and
JSON), ``metrics.jsonl`` and ``curves.png`` are :func:`kelp.train.loop.fit`'s; :class:`GraphTask`
is what is specific to this model.
"""

from __future__ import annotations

import random
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
from kelp.train.distributed import main_first
from kelp.train.loop import LoopConfig, Task, check_settings, fit


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


class GraphTask(Task):
    """The graph denoiser's part of a run: a step's graphs from :class:`ExampleMaker` (rolled
    forward by the model being trained), the weighted slot loss, the held-out refinement
    accuracies (:func:`evaluate_held_out`); training rows also log the scheduled-sampling
    probability (``sampling``)."""

    headline = "final"
    unused_parameters = True  # not every conv variant is known to use all its parameters at every step
    series = tuple((key, f"held-out {key}", color)
                   for key, color in (("one_shot", "tab:orange"), ("final", "tab:red"), ("passed", "tab:green")))

    def __init__(self, config: GraphTrainConfig, vocab: GraphVocab, maker: ExampleMaker, sandbox):
        self.config, self.vocab, self.maker, self.sandbox = config, vocab, maker, sandbox

    def build(self) -> GraphDenoiser:
        return GraphDenoiser(GraphModelConfig.from_vocab(self.vocab, **self.config.model))

    def load(self, checkpoint: Path, training: dict) -> GraphDenoiser:
        return load_graph_checkpoint(checkpoint)[0]

    def state(self) -> dict:
        return {"config": asdict(self.config)}

    def batch(self, model: GraphDenoiser, step: int) -> Batch:
        return Batch.from_data_list(self.maker.batch(model, step))

    def loss(self, model: GraphDenoiser, batch: Batch) -> torch.Tensor:
        return model.loss(batch, self.config.corrupted_weight)

    def evaluate(self, model: GraphDenoiser) -> dict:
        return evaluate_held_out(model, self.vocab, self.sandbox, self.config)

    def save(self, model: GraphDenoiser, directory: Path, training: dict) -> None:
        save_graph_checkpoint(directory, model, self.vocab, training)

    def row(self, step: int) -> dict:
        return {"sampling": round(sampling_probability(step, self.config), 3)}


def train_graph_model(config: GraphTrainConfig, out: Path, *, progress: bool = True, log_every: int = 20,
                      until: int | None = None, function_limit: int | None = None) -> dict:
    """Train (or resume) the graph denoiser into ``out`` with :func:`~kelp.train.loop.fit`;
    returns the last held-out evaluation with ``step`` and ``parameters``.

    ``out`` gets ``settings.json``, ``vocab.json``, ``metrics.jsonl``, ``curves.png`` and
    ``checkpoint/`` (:func:`~kelp.models.graph_model.save_graph_checkpoint` plus
    ``optimizer.safetensors`` and ``rng.safetensors``). ``until``: stop after that step with the
    schedule of ``config.steps``. ``function_limit``: use only the first N corpus functions
    (tests). Raises :class:`GraphTrainError` for bad settings or a directory holding a run with
    other settings, :class:`~kelp.train.corpus.CorpusError` for a missing corpus."""
    from kelp.execute.sandbox import Limits, Sandbox

    config.check()
    out = Path(out)
    with main_first():  # under torchrun, rank 0 writes the settings and the vocabulary first
        out.mkdir(parents=True, exist_ok=True)
        check_settings(out, asdict(config), GraphTrainError)
        functions, tasks = load_sources(Path(config.corpus), function_limit)
        vocab_path = out / "vocab.json"
        if vocab_path.exists():
            vocab = GraphVocab.from_json(vocab_path.read_text())
        else:
            vocab = build_vocab(functions, tasks, config)
            vocab_path.write_text(vocab.to_json())
    loop = LoopConfig(steps=config.steps, lr=config.lr, warmup=config.warmup, weight_decay=config.weight_decay,
                      log_every=log_every, eval_every=config.eval_every, until=until, seed=config.seed,
                      label="training graph denoiser", progress=progress)
    with Sandbox(workers=2, limits=Limits(test_timeout=1.0)) as sandbox:
        maker = ExampleMaker(functions, tasks, vocab, config, sandbox)
        outcome = fit(loop, GraphTask(config, vocab, maker, sandbox), out)
    return {"step": outcome.step, "parameters": sum(p.numel() for p in outcome.model.parameters()),
            **outcome.evaluation}


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


__all__ = ["GraphTrainConfig", "GraphTrainError", "GraphTask", "ExampleMaker", "sampling_probability", "train_graph_model",
           "evaluate_held_out", "load_sources", "build_vocab"]
