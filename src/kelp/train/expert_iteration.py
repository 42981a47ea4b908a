"""`kelp train expert-iteration`: fine-tune the edit model on the repairs the search proves
correct, search again with the fine-tuned model, repeat (expert iteration: Anthony, Tian &
Barber 2017, "Thinking Fast and Slow with Deep Learning and Tree Search"; here the expert is the
repair search guided by the model, ``--proposer both``, and the apprentice is the edit model).

One round ``r`` (1-based) in ``OUT/round-r/``:

1. **search** (``repairs.jsonl``): MBPP problems of a training split (never ``test``),
   corrupted by the forward process (``steps`` mutations, forward seed ``seed + r``), repaired
   by the search with the previous round's model. A repair counts as *proved* when it passes the
   task's tests and the differential tests judged by the reference solution
   (:mod:`kelp.datasets.differential`), so plausible-but-wrong patches never become targets.
2. **examples** (``examples.jsonl``): every state on the tree-diff path from the buggy program
   to a proved repair, with the tests' feedback on that state, and the next edit as the target
   (the format of :mod:`kelp.train.examples`).
3. **fine-tune** (``train/``): the previous round's weights trained on the examples of every
   round so far (dataset aggregation, as in DAgger: Ross et al. 2011), mixed with a share
   ``replay`` of fresh synthetic MBPP-train examples so the model keeps what it knew; resumable
   (:func:`kelp.train.loop.fit`).
4. **evaluation** (``eval-both/``, ``eval-model/``): the fine-tuned model judged as ``both`` and
   as ``model`` alone, next to the enumerator alone (``OUT/eval-enum/``) and the starting model
   (``OUT/round-0/``), by the judge the caller hands in (the command's:
   ``kelp eval repair mbpp-validation``, :func:`kelp.bench.evaluate.validation_judge`).

``OUT/rounds.jsonl`` gets one line per finished round (repairs, examples, loss, solved@k and
unsolved@16 against the enumerator). Every stage writes as it goes and a rerun of the same
command resumes; a rerun with more ``rounds`` goes on from the last one; other settings in
``OUT`` are refused.
"""

from __future__ import annotations

import ast
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from kelp.datasets.jsonl import append_record, read_records
from kelp.errors import KelpError
from kelp.train.edit_trainer import EditTask

#: MBPP splits the searched problems may come from (the test split is an evaluation set).
TRAINING_SPLITS = ("train", "prompt")
#: Budgets reported for each round's evaluation.
REPORT_BUDGETS = (1, 4, 16, 64)


class ExpertIterationError(KelpError, ValueError):
    """Bad settings, or an output folder that holds a run with other settings."""


@dataclass(frozen=True)
class ExpertIterationConfig:
    """What determines a run (saved as ``config.json``).

    ``rounds``: search + fine-tune rounds; ``split``, ``n``: the MBPP training problems searched
    (``n`` None: all); ``steps``: forward-process mutation counts (one task per problem and
    value); ``seed``: round ``r`` corrupts with forward seed ``seed + r``; ``budget``,
    ``seconds``: the search's per-task limits; ``model_weight``: the edit model's share of the
    ``both`` mixture, in the search and the evaluation; ``finetune_steps``, ``batch``, ``lr``,
    ``warmup``: each round's AdamW fine-tuning; ``replay``: share of examples drawn fresh from
    the synthetic stream instead of the proved repairs; ``eval_n``, ``eval_budget``: MBPP
    validation tasks (None: all) and budget of each round's evaluation; ``initial``: the
    starting checkpoint (None: the bundled edit model)."""

    rounds: int = 3
    split: str = "train"
    n: int | None = None
    steps: tuple[int, ...] = (1, 2)
    seed: int = 0
    budget: int = 64
    seconds: float = 20.0
    test_timeout: float = 2.0
    model_weight: float = 0.1
    finetune_steps: int = 300
    batch: int = 16
    lr: float = 3e-4
    warmup: int = 20
    replay: float = 0.5
    eval_n: int | None = None
    eval_budget: int = 64
    initial: str | None = None

    def check(self) -> None:
        """Raises :class:`ExpertIterationError` for a split that is not a training split, an
        ``initial`` folder without weights, or a setting out of range."""
        if self.split not in TRAINING_SPLITS:
            raise ExpertIterationError(f"split {self.split!r} is not a training split; use one of "
                                       f"{', '.join(TRAINING_SPLITS)} (validation is where rounds are judged)")
        if (self.rounds < 1 or not self.steps or min(self.steps) < 1 or self.budget < 1 or self.finetune_steps < 1
                or self.batch < 1 or self.lr <= 0):
            raise ExpertIterationError("rounds, steps, budget, fine-tuning steps and batch must be >= 1, lr > 0")
        if self.initial is not None and not (Path(self.initial) / "model.safetensors").is_file():
            raise ExpertIterationError(f"{self.initial} is not an edit-model checkpoint (no model.safetensors)")
        if not 0.0 <= self.replay < 1.0 or not 0.0 <= self.model_weight <= 1.0:
            raise ExpertIterationError("replay must be in [0, 1) and the model weight in [0, 1]")


def run_expert_iteration(config: ExpertIterationConfig, out: Path, evaluate, *, workers: int | None = None,
                         quiet: bool = False, ray: bool = False) -> list[dict]:
    """Run (or resume) every round into ``out``; returns the rows of ``rounds.jsonl`` (round 0:
    the starting model).

    ``evaluate(proposer, checkpoint, folder) -> summary`` judges a proposer (``"enum"``,
    ``"both"`` or ``"model"``; ``checkpoint`` None for the enumerator) into ``folder``, resuming
    there, and returns its summary with ``solved_at`` (training never imports the benchmarks:
    :func:`kelp.bench.evaluate.validation_judge` is the one the command uses, called with this
    config's ``eval_n``, ``eval_budget``, ``model_weight`` and ``test_timeout``). ``ray``: the
    searches run as Ray tasks (inside :func:`kelp.scale.connect`; :func:`search_round`).
    Raises :class:`ExpertIterationError` for bad settings or an ``out`` made with other
    settings, :class:`~kelp.models.edit_model.CheckpointError` for an unusable ``initial``
    checkpoint."""
    from kelp.models.edit_model import DEFAULT_CHECKPOINT

    config.check()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _claim(config, out / "config.json")
    rows = {row["round"]: row for row in read_records(out / "rounds.jsonl")}

    enum = evaluate("enum", None, out / "eval-enum")
    checkpoint = Path(config.initial) if config.initial else DEFAULT_CHECKPOINT
    if 0 not in rows:
        rows[0] = _row(0, {}, evaluate("both", checkpoint, out / "round-0" / "eval-both"),
                       evaluate("model", checkpoint, out / "round-0" / "eval-model"), enum)
        append_record(out / "rounds.jsonl", rows[0])
    for round_ in range(1, config.rounds + 1):
        where = out / f"round-{round_}"
        if round_ not in rows:
            stats = search_round(config, round_, checkpoint, where, workers=workers, quiet=quiet, ray=ray)
            stats["examples"] = write_examples(config, where, workers=workers, quiet=quiet)
            stats.update(finetune(config, round_, checkpoint, out, quiet=quiet))
            new = where / "train" / "checkpoint"
            rows[round_] = _row(round_, stats, evaluate("both", new, where / "eval-both"),
                                evaluate("model", new, where / "eval-model"), enum)
            append_record(out / "rounds.jsonl", rows[round_])
        checkpoint = where / "train" / "checkpoint"
    return [rows[k] for k in sorted(rows) if k <= config.rounds]


def search_round(config: ExpertIterationConfig, round_: int, checkpoint: Path, where: Path, *,
                 workers: int | None = None, quiet: bool = False, ray: bool = False) -> dict:
    """Stage 1 of a round: search every (problem, steps) task with ``checkpoint`` guiding the
    enumerator, appending one line per task to ``where/repairs.jsonl`` (key, task id, steps,
    buggy ``source``, ``solved``, ``repaired``, ``executions_to_solve``, ``proved``); tasks
    already there are skipped. ``ray``: the searches run as Ray tasks (inside
    :func:`kelp.scale.connect`), each worker with a sandbox of ``workers`` processes (default 1)
    and the model loaded once; this process alone writes. Returns ``{"tasks", "solved",
    "proved"}``."""
    import os
    from functools import partial

    from kelp.datasets.loaders import load_mbpp
    from kelp.progress import progress_bar
    from kelp.scale import Failed, Work, map_units

    where.mkdir(parents=True, exist_ok=True)
    path = where / "repairs.jsonl"
    done = {r["key"] for r in read_records(path)}
    problems = load_mbpp(config.split)[: config.n or None]
    jobs = [(f"{p.task_id}/steps{steps}", (index, steps)) for index, p in enumerate(problems) for steps in config.steps]
    todo = [(key, job) for key, job in jobs if key not in done]
    work = Work(partial(_Searcher, config, round_, str(checkpoint)), _Searcher.search)
    with progress_bar(enabled=not quiet) as bar:
        task_bar = bar.add_task(f"round {round_}: search", total=len(jobs), completed=len(jobs) - len(todo))
        for key, record in map_units(work, todo, ray=ray, cpus=workers or (1 if ray else os.cpu_count() or 1)):
            bar.advance(task_bar)
            if isinstance(record, Failed):
                raise ExpertIterationError(f"the search of {key} failed: {record.reason}")
            if record is not None:  # None: the forward process cannot break it, or bad input
                append_record(path, {"key": key, **record})
    records = read_records(path)
    return {"tasks": len(records), "solved": sum(r["solved"] for r in records),
            "proved": sum(r["proved"] for r in records)}


class _Searcher:
    """One worker's part of a round's search: a sandbox pool of ``cpus`` processes, the
    ``both`` proposers with the round's model (loaded once) and the split's problems."""

    def __init__(self, config: ExpertIterationConfig, round_: int, checkpoint: str, cpus: int) -> None:
        from kelp.datasets.loaders import load_mbpp
        from kelp.execute.sandbox import Limits, Sandbox
        from kelp.repair.proposers import make_proposers
        from kelp.repair.search import RepairConfig

        self.config, self.round = config, round_
        self.sandbox = Sandbox(workers=cpus, limits=Limits(test_timeout=config.test_timeout))
        self.proposers = make_proposers("both", checkpoint, weight=config.model_weight)
        self.problems = load_mbpp(config.split)[: config.n or None]
        self.repair_config = RepairConfig(budget=config.budget, seconds=config.seconds)

    def search(self, job: tuple[int, int]) -> dict | None:
        """The ``repairs.jsonl`` line of one task (without its key), or None when the forward
        process cannot break the problem or the search refuses it."""
        from collections import Counter

        from kelp.datasets.differential import differential_suite
        from kelp.datasets.tasks import prepare_mbpp_task
        from kelp.repair.search import RepairInputError, repair

        index, steps = job
        problem = self.problems[index]
        prepared = prepare_mbpp_task(problem, self.sandbox, steps=steps, policy="realistic",
                                     seed=self.config.seed + self.round, bank=None, dropped=Counter())
        if prepared is None:
            return None
        task = prepared.task
        try:
            result = repair(task.source, task.suite, self.sandbox, self.repair_config, proposers=self.proposers,
                            initial_run=prepared.initial_run, intent=problem.text)
        except RepairInputError:
            return None
        proved = False
        if result.solved:
            judge = differential_suite(task.suite, problem.code, problem.entry_point)
            run = self.sandbox.verify(result.repaired, judge)
            proved = run.status == "ok" and run.all_passed
        return {"task_id": problem.task_id, "steps": steps, "source": task.source, "solved": result.solved,
                "repaired": result.repaired if result.solved else None,
                "executions_to_solve": result.executions_to_solve, "proved": proved}

    def close(self) -> None:
        self.sandbox.close()


def write_examples(config: ExpertIterationConfig, where: Path, *, workers: int | None = None,
                   quiet: bool = False) -> int:
    """Stage 2 of a round: ``where/examples.jsonl`` from the proved repairs of
    ``where/repairs.jsonl`` (:func:`path_examples`); written whole, then marked done by
    ``where/examples.done``. Returns the number of examples."""
    from kelp.datasets.loaders import load_mbpp
    from kelp.execute.sandbox import Limits, Sandbox
    from kelp.train.examples import sandbox_feedback

    path, marker = where / "examples.jsonl", where / "examples.done"
    if marker.exists():
        return len(read_records(path))
    problems = {p.task_id: p for p in load_mbpp(config.split)}
    path.unlink(missing_ok=True)
    count = 0
    with Sandbox(workers=workers, limits=Limits(test_timeout=config.test_timeout)) as sandbox:
        for record in read_records(where / "repairs.jsonl"):
            if not record["proved"]:
                continue
            problem = problems[record["task_id"]]
            feedback = sandbox_feedback(sandbox, problem.suite())
            for example in path_examples(record["source"], record["repaired"], problem.text, list(problem.tests),
                                         feedback):
                append_record(path, {**example.to_json(), "meta": {"key": record["key"], **example.meta}})
                count += 1
    marker.write_text(f"{count}\n")
    return count


def path_examples(buggy: str, repaired: str, intent: str, tests: list[str], feedback) -> list:
    """One :class:`~kelp.train.examples.EditExample` per state on the tree-diff path from
    ``buggy`` to ``repaired`` (both normalised first): that state's prompt with every section
    (intent, tests, ``feedback(state) -> (messages, line suspiciousness)``) and the path's next
    edit as the target. Edits the format cannot express end the path early; unparsable input
    gives ``[]``."""
    from kelp.models.edit_format import EditFormatError, build_prompt, encode_edit, render_program
    from kelp.program.diff import EditError, tree_diff
    from kelp.train.examples import MESSAGE_CHARS, EditExample

    try:
        state = ast.parse(ast.unparse(ast.parse(buggy)))
        path = tree_diff(state, ast.parse(ast.unparse(ast.parse(repaired))))
    except (SyntaxError, EditError, RecursionError, ValueError):
        return []
    examples = []
    for position, edit in enumerate(path):
        program = ast.unparse(state)
        messages, susp = feedback(program)
        try:
            rendered = render_program(program, susp)
            target = encode_edit(edit, rendered)
            state = edit.apply(state, check=False)
        except (EditFormatError, EditError, SyntaxError, KeyError, ValueError):
            break
        prompt = build_prompt(rendered, intent, [t[:MESSAGE_CHARS] for t in tests],
                              [m[:MESSAGE_CHARS] for m in messages])
        examples.append(EditExample(prompt, target, {"position": position, "path_length": len(path)}))
    return examples


class ReplayStream:
    """Endless seeded examples: with probability ``replay`` the next example of ``base`` (an
    :class:`~kelp.train.edit_trainer.ExampleStream`), otherwise a proved-repair example drawn
    uniformly from ``examples``. ``state()`` / ``restore()`` cover both RNGs (JSON-ready)."""

    def __init__(self, examples: list, base, replay: float, seed: int):
        self.examples, self.base, self.replay = examples, base, replay
        self.rng = random.Random(seed)

    def __iter__(self):
        return self

    def __next__(self):
        if not self.examples or self.rng.random() < self.replay:
            return next(self.base)
        return self.examples[self.rng.randrange(len(self.examples))]

    def state(self) -> list:
        """``[own RNG state, base stream state]`` as nested lists."""
        version, internal, gauss = self.rng.getstate()
        return [[version, list(internal), gauss], self.base.state()]

    def restore(self, state: list) -> None:
        """Inverse of :meth:`state`."""
        own, base = state
        self.rng.setstate((own[0], tuple(own[1]), own[2]))
        self.base.restore(base)


def finetune(config: ExpertIterationConfig, round_: int, checkpoint: Path, out: Path, *,
             quiet: bool = False) -> dict:
    """Stage 3 of a round: train ``checkpoint``'s weights on the examples of rounds 1..``round_``
    (and replayed synthetic ones) into ``out/round-<round_>/train`` with
    :func:`~kelp.train.loop.fit` (resumes). Returns ``{"train_loss", "greedy_repaired"}``:
    the last logged loss and the one-greedy-edit repair rate on the first (at most 20, at most
    ``eval_n``) MBPP validation tasks."""
    from kelp.datasets.loaders import load_mbpp
    from kelp.execute.sandbox import Limits, Sandbox
    from kelp.models.edit_model import load_checkpoint
    from kelp.train.edit_trainer import ExampleStream, TrainConfig, held_out_tasks
    from kelp.train.examples import EditExample
    from kelp.train.loop import LoopConfig, fit

    model, tokenizer, _ = load_checkpoint(Path(checkpoint))
    size = _size_of(model)
    examples = [EditExample(r["prompt"], r["target"], r.get("meta", {}))
                for k in range(1, round_ + 1) for r in read_records(out / f"round-{k}" / "examples.jsonl")]
    train_config = TrainConfig(corpus="", steps=config.finetune_steps, batch=config.batch, lr=config.lr,
                               warmup=config.warmup, mbpp_share=1.0, eval_every=config.finetune_steps,
                               eval_tasks=min(20, config.eval_n or 20), seed=config.seed + round_, size=size)
    loop = LoopConfig(steps=config.finetune_steps, lr=config.lr, warmup=config.warmup, lr_floor=0.1,
                      log_every=min(20, config.finetune_steps), eval_every=config.finetune_steps, seed=config.seed + round_,
                      label=f"round {round_}: fine-tune", progress=not quiet)
    run_dir = out / f"round-{round_}" / "train"
    with Sandbox(workers=1, limits=Limits(test_timeout=1.0)) as sandbox, \
            Sandbox(workers=1, limits=Limits(test_timeout=1.0)) as stream_sandbox:
        base = ExampleStream([], load_mbpp(config.split), stream_sandbox, config.seed + round_, 1.0)
        stream = ReplayStream(examples, base, config.replay, config.seed + round_)
        task = _FinetuneTask(model, train_config, tokenizer, stream, sandbox,
                             held_out_tasks(sandbox, train_config.eval_tasks, config.seed))
        try:
            outcome = fit(loop, task, run_dir)
        finally:
            task.close()
    losses = [r["loss"] for r in read_records(run_dir / "metrics.jsonl") if "loss" in r]
    return {"train_loss": losses[-1] if losses else None,
            "greedy_repaired": outcome.evaluation.get("repaired")}


def _size_of(model) -> dict:
    from kelp.models.edit_model import ModelSize

    c = model.config
    return asdict(ModelSize(hidden=c.hidden_size, layers=c.num_hidden_layers, heads=c.num_attention_heads,
                            intermediate=c.intermediate_size, context=c.max_position_embeddings))


class _FinetuneTask(EditTask):
    """:class:`EditTask` whose model starts from the given weights instead of fresh ones."""

    def __init__(self, initial, *args):
        super().__init__(*args)
        self.initial = initial

    def build(self):
        return self.initial


def _row(round_: int, stats: dict, both: dict, model: dict, enum: dict) -> dict:
    def solved(summary: dict) -> dict:
        return {str(k): summary.get("solved_at", {}).get(str(k)) for k in REPORT_BUDGETS}

    def unsolved16(summary: dict) -> float | None:
        value = summary.get("solved_at", {}).get("16")
        return None if value is None else 1.0 - value

    ratio = None
    if unsolved16(enum):
        ratio = round(unsolved16(both) / unsolved16(enum), 3)
    return {"round": round_, **stats, "eval_tasks": both.get("n"), "enum": solved(enum), "both": solved(both),
            "model": solved(model), "unsolved16_ratio_both": ratio}


def _claim(config: ExpertIterationConfig, path: Path) -> None:
    """Record the settings in ``path``; a run already there must have the same ones except
    ``rounds`` (a run may go on for more rounds, or report its first ones)."""
    current = json.loads(json.dumps(asdict(config)))
    if path.exists():
        saved = json.loads(path.read_text())
        changed = sorted(k for k in current if k != "rounds" and saved.get(k) != current[k])
        if changed:
            raise ExpertIterationError(f"{path.parent} holds a run with other settings ({', '.join(changed)}); "
                                       "use another folder")
    path.write_text(json.dumps(current, indent=2) + "\n")


__all__ = ["ExpertIterationConfig", "ExpertIterationError", "ReplayStream", "TRAINING_SPLITS", "finetune",
           "path_examples", "run_expert_iteration", "search_round", "write_examples"]
