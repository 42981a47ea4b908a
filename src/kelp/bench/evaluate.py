"""`kelp eval repair`: repair benchmarks end to end, written as they go and resumable.

Each finished task appends one JSON line to ``DIR/results.jsonl`` (always a whole line, see
:mod:`kelp.datasets.jsonl`); a rerun with the same command skips tasks already there.
``DIR/summary.json`` is rewritten at the end (see :func:`kelp.bench.metrics.summarize` for its
fields) and ``DIR/config.json`` records the command's settings; resuming with different
settings is refused.

Result line schema: task_id (str), solved (bool), executions (int, candidate executions),
executions_to_solve (int | null), seconds (float), tests_before / tests_after ([passed, total]),
restored (bool: repaired AST equals the original's), equivalent (bool | null: same AST as the
known fix, ignoring docstrings), localization_top1 (bool | null: a buggy line ranked first),
buggy_lines, edits, mutations (for generated tasks), category (for human bugs with
``meta.category``), reason, repaired (source, when solved).
With ``--visible-tests K``: visible (the K test ids the search saw), hidden_tests ([passed,
total] of the task's whole suite on the repair, a judged run where the suite allows one) and
hidden_pass (bool), for solved tasks. For a solved task with a known fix and an assert suite:
differential_tests ([passed, total] of the whole suite plus differential tests, new inputs
judged by the known fix: :mod:`kelp.datasets.differential`) and differential_pass (bool).
"""

from __future__ import annotations

import ast
import difflib
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from kelp.errors import KelpError
from kelp.datasets.jsonl import append_record, read_records
from kelp.bench.metrics import summarize
from kelp.corrupt import SubtreeBank
from kelp.datasets.differential import differential_suite
from kelp.datasets.loaders import HUMANBUGS_FILE, entry_point_of, load_jsonl_tasks, load_mbpp, load_quixbugs
from kelp.datasets.tasks import PreparedTask, prepare_mbpp_task, visible_suite
from kelp.execute.sandbox import Limits, Sandbox
from kelp.progress import progress_bar
from kelp.repair.proposers import make_proposers
from kelp.repair.search import RepairConfig, RepairInputError, repair
from kelp.scale import Failed, Work, connect, map_units


class EvalError(KelpError, ValueError):
    """Bad evaluation arguments or an output directory that belongs to another run."""


@dataclass(frozen=True)
class EvalConfig:
    """Everything that determines an evaluation's results (saved as ``config.json``);
    ``ranker``: as :attr:`RepairConfig.ranker` (``None`` for off, ``"bundled"``, or a path)."""

    bench: str
    steps: int = 1
    corruption: str = "realistic"
    n: int | None = None
    budget: int = 256
    seed: int = 0
    seconds: float = 120.0
    test_timeout: float = 2.0
    proposer: str = "enum"
    checkpoint: str | None = None
    feedback: bool = True
    model_weight: float = 0.1
    graph_checkpoint: str | None = None
    visible_tests: int | None = None
    ranker: str | None = None


def run_eval(config: EvalConfig, out: Path, *, workers: int | None = None, quiet: bool = False,
             ray: str | None = None) -> dict:
    """Run (or resume) one evaluation into ``out``; returns the summary dict.

    ``workers``: sandbox worker processes (default: this machine's CPUs; with ``ray``, 1 per Ray
    task, which also declares that many CPUs). ``ray``: ``"local"`` or a cluster address: the
    tasks run as Ray tasks (:mod:`kelp.scale`) and only this process writes the results; the
    verdicts are those of the serial run. Raises :class:`EvalError` for bad settings or an ``out``
    of another run, and :class:`kelp.scale.ScaleError` (before ``out`` is made) when Ray is
    missing or the address cannot be reached."""
    with connect(ray):
        return _run_eval(config, Path(out), workers=workers, quiet=quiet, ray=bool(ray))


def _run_eval(config: EvalConfig, out: Path, *, workers: int | None, quiet: bool, ray: bool) -> dict:
    keys = _task_keys(config)
    out.mkdir(parents=True, exist_ok=True)
    _check_config(config, out / "config.json")
    results_path, dropped_path = out / "results.jsonl", out / "dropped.jsonl"
    done = read_results(results_path)
    dropped = {r["task_id"]: r["reason"] for r in read_records(dropped_path) if "task_id" in r}
    todo = [(key, index) for index, key in enumerate(keys) if key not in done and key not in dropped]
    cpus = workers or (1 if ray else os.cpu_count() or 1)
    work = Work(partial(_EvalWorker, config), _EvalWorker.evaluate)
    with progress_bar(enabled=not quiet) as progress:
        bar = progress.add_task(f"eval {config.bench}", total=len(keys), completed=len(keys) - len(todo))
        for key, result in map_units(work, todo, ray=ray, cpus=cpus):
            if isinstance(result, Failed):
                result = _error_record(key, f"internal error: {result.reason}")
            if "dropped" in result:
                append_record(dropped_path, {"task_id": key, "reason": result["dropped"]})
                dropped[key] = result["dropped"]
            else:
                append_record(results_path, result)
                done[key] = result
            progress.update(bar, advance=1, description=f"eval {config.bench} solved "
                            f"{sum(1 for r in done.values() if r['solved'])}/{len(done)}")
    order = {key: i for i, key in enumerate(keys)}
    records = sorted(done.values(), key=lambda r: order.get(r["task_id"], len(order)))
    summary = summarize(records, dropped=dict(Counter(dropped.values())), seed=config.seed)
    summary["config"] = asdict(config)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


class _EvalWorker:
    """What one worker keeps between tasks of an evaluation: its sandbox pool of ``cpus``
    processes, the proposers (models loaded once) and the benchmark's tasks."""

    def __init__(self, config: EvalConfig, cpus: int) -> None:
        self.config = config
        self.sandbox = Sandbox(workers=cpus, limits=Limits(test_timeout=config.test_timeout))
        self.repair_config = RepairConfig(budget=config.budget, seconds=config.seconds, ranker=config.ranker)
        self.proposers = make_proposers(config.proposer, config.checkpoint, feedback=config.feedback,
                                        weight=config.model_weight, graph_checkpoint=config.graph_checkpoint)
        self.tasks = _load_tasks(config)
        self.bank = None
        if config.bench in MBPP_SPLITS and config.corruption == "bank":
            self.bank = SubtreeBank.from_sources(p.code for p in load_mbpp("train"))

    def evaluate(self, index: int) -> dict:
        """The result line of task ``index``, or ``{"dropped": reason}`` for an MBPP problem that
        no seeded corruption breaks (see :func:`~kelp.datasets.tasks.prepare_mbpp_task`)."""
        item = self.tasks[index]
        if self.config.bench in MBPP_SPLITS:
            reasons: Counter = Counter()
            item = prepare_mbpp_task(item, self.sandbox, steps=self.config.steps, policy=self.config.corruption,
                                     seed=self.config.seed, bank=self.bank, dropped=reasons)
            if item is None:
                return {"dropped": next(iter(reasons))}
        prepared = item if isinstance(item, PreparedTask) else PreparedTask(item, None)
        return _evaluate_one(prepared, self.sandbox, self.repair_config, self.proposers, self.config.visible_tests)

    def close(self) -> None:
        self.sandbox.close()


def _error_record(task_id: str, reason: str) -> dict:
    return {"task_id": task_id, "solved": False, "executions": 0, "executions_to_solve": None, "seconds": 0.0,
            "restored": False, "equivalent": None, "localization_top1": None, "reason": reason}


def validation_judge(*, n: int | None = None, budget: int = 64, model_weight: float = 0.1,
                     test_timeout: float = 2.0, workers: int | None = None, quiet: bool = False,
                     ray: str | None = None):
    """A ``judge(proposer, checkpoint, folder) -> summary`` that runs (or resumes)
    ``kelp eval repair mbpp-validation --steps 1`` into ``folder`` for ``proposer`` (``enum``,
    ``both`` or ``model``) with the edit-model ``checkpoint`` (None: the bundled one), on the
    first ``n`` tasks (None: all) at ``budget`` executions (the model alone, which decodes a beam
    at every state, at most 16), as Ray tasks with ``ray`` (see :func:`run_eval`). Used by
    expert iteration to judge each round."""
    def judge(proposer: str, checkpoint: Path | None, folder: Path) -> dict:
        config = EvalConfig(bench="mbpp-validation", steps=1, n=n, budget=budget if proposer != "model" else min(budget, 16),
                            proposer=proposer, checkpoint=None if checkpoint is None else str(checkpoint),
                            model_weight=model_weight, test_timeout=test_timeout)
        return run_eval(config, Path(folder), workers=workers, quiet=quiet, ray=ray)

    return judge


#: MBPP benchmarks and their splits: ``mbpp`` is the test split (reported numbers); settings are
#: tuned on ``mbpp-validation`` (tasks 511-600), never on the test split.
MBPP_SPLITS = {"mbpp": "test", "mbpp-validation": "validation"}


def _load_tasks(config: EvalConfig) -> list:
    """The benchmark's tasks in order: MBPP problems (corrupted later, one by one) or
    ``RepairTask``s. Raises :class:`EvalError` for an unknown benchmark or corruption."""
    if config.bench in MBPP_SPLITS:
        if config.corruption not in ("realistic", "bank"):
            raise EvalError(f"--corruption must be 'realistic' or 'bank', not {config.corruption!r}")
        return load_mbpp(MBPP_SPLITS[config.bench])[: config.n or None]
    if config.bench == "quixbugs":
        tasks = load_quixbugs()
    elif config.bench == "humanbugs":
        tasks = load_jsonl_tasks(HUMANBUGS_FILE)
    elif config.bench.startswith("jsonl:"):
        tasks = load_jsonl_tasks(config.bench[len("jsonl:"):])
    else:
        raise EvalError(f"unknown benchmark {config.bench!r}: use mbpp, mbpp-validation, quixbugs, humanbugs or jsonl:PATH")
    return tasks[: config.n] if config.n else tasks


def _task_keys(config: EvalConfig) -> list[str]:
    """The ``task_id`` of every task of the benchmark, in order."""
    return [str(task.task_id) for task in _load_tasks(config)]


def _evaluate_one(prepared: PreparedTask, sandbox: Sandbox, config: RepairConfig, proposers: list | None = None,
                  visible_tests: int | None = None) -> dict:
    task = prepared.task
    buggy = _buggy_lines(task.source, task.fixed) if task.fixed else []
    record = {"task_id": task.task_id, "buggy_lines": buggy, "mutations": task.meta.get("mutations")}
    category = (task.meta.get("meta") or {}).get("category")
    if category:
        record["category"] = category
    suite, initial_run = task.suite, prepared.initial_run
    if visible_tests is not None and task.suite.kind != "pytest" and len(task.suite.tests) > visible_tests:
        first = initial_run if initial_run is not None else sandbox.run(task.source, task.suite)
        suite, initial_run = visible_suite(task.suite, first, visible_tests), None
        record["visible"] = [t.id for t in suite.tests]
    try:
        result = repair(task.source, suite, sandbox, config, proposers=proposers,
                        initial_run=initial_run, intent=task.meta.get("intent", ""))
    except RepairInputError as exc:
        record.update(solved=False, executions=0, executions_to_solve=None, seconds=0.0, restored=False,
                      equivalent=None, localization_top1=None, reason=f"bad input: {exc}")
        return record
    except Exception as exc:  # noqa: BLE001 - one task's bug must not lose the run; it is recorded
        record.update(solved=False, executions=0, executions_to_solve=None, seconds=0.0, restored=False,
                      equivalent=None, localization_top1=None,
                      reason=f"internal error: {type(exc).__name__}: {exc}")
        return record
    record.update(result.to_json())
    record["localization_top1"] = (bool(result.localization) and result.localization[0] in buggy) if buggy else None
    record["restored"] = bool(result.solved and task.fixed and _same_code(result.repaired, task.fixed))
    record["equivalent"] = record["restored"] if (result.solved and task.fixed) else None
    if result.solved:
        record["repaired"] = result.repaired
        if "visible" in record:
            whole = sandbox.verify(result.repaired, task.suite)
            record["hidden_tests"] = [whole.passed, whole.total]
            record["hidden_pass"] = whole.status == "ok" and whole.all_passed
        if task.fixed and task.suite.kind == "asserts":
            entry = task.entry_point or entry_point_of(task.fixed, [t.source for t in task.suite.tests])
            judge = differential_suite(task.suite, task.fixed, entry)
            if len(judge.tests) > len(task.suite.tests):
                run = sandbox.verify(result.repaired, judge)
                record["differential_tests"] = [run.passed, run.total]
                record["differential_pass"] = run.status == "ok" and run.all_passed
    return record


def _strip_docstrings(source: str) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            kept = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                            and isinstance(s.value.value, str))]
            node.body = kept or [ast.Pass()]
    return ast.unparse(tree)


def _same_code(a: str, b: str) -> bool:
    """Same AST, ignoring docstrings and formatting."""
    try:
        return _strip_docstrings(a) == _strip_docstrings(b)
    except SyntaxError:
        return False


def _buggy_lines(buggy: str, fixed: str) -> list[int]:
    """1-based lines of ``buggy`` that the fix replaces or deletes; docstring lines are ignored.

    Both texts must be formatted alike (QuixBugs' pairs are; generated tasks are normalised).
    """
    try:
        doc_lines = {ln for node in ast.walk(ast.parse(buggy))
                     if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                     and isinstance(node.value.value, str)
                     for ln in range(node.lineno, node.end_lineno + 1)}
    except SyntaxError:
        return []
    a, b = buggy.splitlines(), fixed.splitlines()
    lines = []
    for tag, i1, i2, _j1, _j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            lines.extend(i + 1 for i in range(i1, i2) if i + 1 not in doc_lines and a[i].strip())
    return lines


def _check_config(config: EvalConfig, path: Path) -> None:
    current = asdict(config)
    if path.exists():
        saved = json.loads(path.read_text())
        defaults = asdict(EvalConfig(bench=config.bench))
        saved = {**{k: v for k, v in defaults.items() if k not in saved}, **saved}  # runs from before a setting existed
        if saved != current:
            diff = {k: (saved.get(k), v) for k, v in current.items() if saved.get(k) != v}
            raise EvalError(f"{path.parent} holds a run with other settings {diff}; use another --out")
    else:
        path.write_text(json.dumps(current, indent=2) + "\n")


def read_results(path: Path) -> dict:
    """``task_id -> record`` from a ``results.jsonl`` written as an evaluation goes (empty when
    absent); a torn or damaged line is skipped, so that task runs again (see
    :mod:`kelp.datasets.jsonl`, which also cuts a torn last line off before the next append)."""
    return {record["task_id"]: record for record in read_records(path) if "task_id" in record}
