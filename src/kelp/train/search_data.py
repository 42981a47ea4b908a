"""Search-labelled data: every candidate the repair search runs on training tasks, labelled by
execution, for learning to rank candidates (the data of a learned ranker such as Prophet's,
Long & Rinard 2016, here from the search's own runs rather than from human patches).

Tasks are MBPP problems of a training split (``train``, ``validation``, ``prompt``; never
``test``) corrupted by the forward process (steps and seeds as configured). The search sees
``visible_tests`` tests (a failing one first, :func:`kelp.datasets.tasks.visible_suite`) and
runs its whole budget, past the first repair (``RepairConfig.stop_at_repair=False``: a search
that stopped there would make the last candidate of every solved task its correct one, a bias a
ranker learns instead of the patch). Every candidate it runs is labelled:

- ``correct``: passes every test of the task (visible and hidden), in a judged run;
- ``plausible_wrong``: passes the visible tests and fails a hidden one;
- ``failing``: fails a visible test.

Output, written as it goes and resumable: ``DIR/tasks.jsonl`` (one line per finished task:
key, task id, steps, seed, the buggy source, visible test ids, solved, counts per label),
``DIR/candidates.jsonl`` (one line per candidate: the task key, the fields of
:class:`~kelp.repair.search.CandidateRun` and ``label``), ``DIR/config.json`` and
``DIR/summary.json``. A task's candidates are written before its task line, so a run cut off
in the middle of a task leaves candidates without a task line: :func:`read_search_data` drops
them and the task runs again.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from kelp.datasets.jsonl import append_record, read_records
from kelp.errors import KelpError

#: MBPP splits the data may come from; the test split is an evaluation set.
TRAINING_SPLITS = ("train", "validation", "prompt")
LABELS = ("correct", "plausible_wrong", "failing")


class SearchDataError(KelpError, ValueError):
    """Bad settings, or an output folder that holds data made with other settings."""


@dataclass(frozen=True)
class SearchDataConfig:
    """What determines the data (saved as ``config.json``): the MBPP ``split``, the first ``n``
    problems (None: all), forward-process ``steps`` and ``seeds`` (each pair is one task per
    problem), ``visible_tests`` shown to the search, the search's ``budget``, ``seconds``,
    per-test ``test_timeout`` and ``ranker`` (a ranker file; None: the proposers' own order)."""

    split: str = "train"
    n: int | None = None
    steps: tuple[int, ...] = (1,)
    seeds: tuple[int, ...] = (0,)
    visible_tests: int = 1
    budget: int = 64
    seconds: float = 30.0
    test_timeout: float = 2.0
    ranker: str | None = None

    def check(self) -> None:
        """Raises :class:`SearchDataError` for a split that is not a training split or a
        setting out of range."""
        if self.split not in TRAINING_SPLITS:
            raise SearchDataError(f"split {self.split!r} is not a training split; "
                                  f"use one of {', '.join(TRAINING_SPLITS)}")
        if not self.steps or not self.seeds or min(self.steps) < 1 or self.visible_tests < 1 or self.budget < 1:
            raise SearchDataError("steps, seeds, visible tests and budget must be given and >= 1")


def generate_search_data(config: SearchDataConfig, out: Path, *, workers: int | None = None,
                         quiet: bool = False) -> dict:
    """Run (or resume) the searches into ``out``; returns the summary (tasks, candidates,
    labels: count per label, solved, correct_first: tasks whose first plausible candidate was
    correct, dropped: problems the forward process could not break, by reason)."""
    from kelp.datasets.tasks import visible_suite
    from kelp.datasets.loaders import load_mbpp
    from kelp.datasets.tasks import prepare_mbpp_task
    from kelp.execute.sandbox import Limits, Sandbox
    from kelp.progress import progress_bar
    from kelp.repair.search import RepairConfig, RepairInputError, repair

    config.check()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _claim(config, out / "config.json")
    done = {t["key"] for t in read_records(out / "tasks.jsonl")}
    problems = load_mbpp(config.split)[: config.n or None]
    jobs = [(p, steps, seed) for p in problems for steps in config.steps for seed in config.seeds]
    dropped: Counter = Counter()
    repair_config = RepairConfig(budget=config.budget, seconds=config.seconds, ranker=config.ranker,
                                 stop_at_repair=False)
    with Sandbox(workers=workers, limits=Limits(test_timeout=config.test_timeout)) as sandbox, \
            progress_bar(enabled=not quiet) as bar:
        task_bar = bar.add_task("search data", total=len(jobs))
        for problem, steps, seed in jobs:
            key = f"{problem.task_id}/steps{steps}/seed{seed}"
            if key in done:
                bar.advance(task_bar)
                continue
            prepared = prepare_mbpp_task(problem, sandbox, steps=steps, policy="realistic", seed=seed,
                                         bank=None, dropped=dropped)
            bar.advance(task_bar)
            if prepared is None:
                continue
            task = prepared.task
            suite = visible_suite(task.suite, prepared.initial_run, config.visible_tests)
            seen: list = []
            try:
                result = repair(task.source, suite, sandbox, repair_config, observer=seen.append,
                                intent=task.meta.get("intent", ""))
            except RepairInputError:
                continue
            labels: Counter = Counter()
            for run in seen:
                label = _label(run, task.suite, sandbox)
                labels[label] += 1
                append_record(out / "candidates.jsonl", {"key": key, **asdict(run), "label": label})
            append_record(out / "tasks.jsonl", {
                "key": key, "task_id": task.task_id, "steps": steps, "seed": seed, "source": task.source,
                "visible": [t.id for t in suite.tests], "solved": result.solved,
                "labels": {name: labels[name] for name in LABELS}})
    summary = summarize_search_data(out)
    summary["dropped"] = dict(dropped)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _label(run, suite, sandbox) -> str:
    """``correct`` / ``plausible_wrong`` / ``failing`` for one :class:`CandidateRun`."""
    if not run.plausible:
        return "failing"
    whole = sandbox.verify(run.source, suite)
    return "correct" if whole.status == "ok" and whole.all_passed else "plausible_wrong"


def read_search_data(out: Path) -> tuple[list[dict], list[dict]]:
    """``(tasks, candidates)`` of a data folder, candidates only of finished tasks (see the
    module docstring)."""
    tasks = read_records(Path(out) / "tasks.jsonl")
    keys = {t["key"] for t in tasks}
    return tasks, [c for c in read_records(Path(out) / "candidates.jsonl") if c.get("key") in keys]


def summarize_search_data(out: Path) -> dict:
    """Counts of a data folder: tasks, candidates, labels, solved, correct_first."""
    tasks, candidates = read_search_data(out)
    first: dict[str, str] = {}
    for c in candidates:
        if c["label"] != "failing":
            first.setdefault(c["key"], c["label"])
    return {"tasks": len(tasks), "candidates": len(candidates),
            "labels": dict(Counter(c["label"] for c in candidates)),
            "solved": sum(1 for t in tasks if t["solved"]),
            "correct_first": sum(1 for label in first.values() if label == "correct")}


def _claim(config: SearchDataConfig, path: Path) -> None:
    current = json.loads(json.dumps(asdict(config)))
    if path.exists():
        saved = json.loads(path.read_text())
        if saved != current:
            raise SearchDataError(f"{path.parent} holds data made with other settings; use another folder")
    else:
        path.write_text(json.dumps(current, indent=2) + "\n")
