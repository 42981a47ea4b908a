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
:class:`~kelp.repair.search.CandidateRun` and ``label``), ``DIR/dropped.jsonl`` (problems the
forward process cannot break, with the reason), ``DIR/config.json`` and ``DIR/summary.json``.
A task's candidates are written before its task line, so a run cut off in the middle of a task
leaves candidates without a task line: :func:`read_search_data` drops them, and a rerun cuts
them out of the file before the task runs again. With ``--ray`` the searches run as Ray tasks
and only the calling process writes.
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
#: Forward policies the data can be made with (kelp.corrupt.POLICIES less those that need a bank).
SEARCH_DATA_POLICIES = ("realistic", "calls", "excess")
LABELS = ("correct", "plausible_wrong", "failing")


class SearchDataError(KelpError, ValueError):
    """Bad settings, or an output folder that holds data made with other settings."""


@dataclass(frozen=True)
class SearchDataConfig:
    """What determines the data (saved as ``config.json``): the MBPP ``split``, the first ``n``
    problems (None: all), forward-process ``steps`` and ``seeds`` (each pair is one task per
    problem), ``visible_tests`` shown to the search, the search's ``budget``, ``seconds``,
    per-test ``test_timeout``, ``ranker`` (a ranker file; None: the proposers' own order) and the
    forward process's ``policy`` (``realistic``; ``calls``: the misuse of calls people make,
    :data:`kelp.corrupt.CALL_FAMILIES`; ``excess``: code that should not be there,
    :data:`kelp.corrupt.EXCESS_FAMILIES`)."""

    split: str = "train"
    n: int | None = None
    steps: tuple[int, ...] = (1,)
    seeds: tuple[int, ...] = (0,)
    visible_tests: int = 1
    budget: int = 64
    seconds: float = 30.0
    test_timeout: float = 2.0
    ranker: str | None = None
    policy: str = "realistic"

    def check(self) -> None:
        """Raises :class:`SearchDataError` for a split that is not a training split or a
        setting out of range."""
        if self.split not in TRAINING_SPLITS:
            raise SearchDataError(f"split {self.split!r} is not a training split; "
                                  f"use one of {', '.join(TRAINING_SPLITS)}")
        if not self.steps or not self.seeds or min(self.steps) < 1 or self.visible_tests < 1 or self.budget < 1:
            raise SearchDataError("steps, seeds, visible tests and budget must be given and >= 1")
        if self.policy not in SEARCH_DATA_POLICIES:
            raise SearchDataError(f"policy {self.policy!r} is not one of {', '.join(SEARCH_DATA_POLICIES)}")


def generate_search_data(config: SearchDataConfig, out: Path, *, workers: int | None = None,
                         quiet: bool = False, ray: str | None = None) -> dict:
    """Run (or resume) the searches into ``out``; returns the summary (tasks, candidates,
    labels: count per label, solved, correct_first: tasks whose first plausible candidate was
    correct, dropped: problems the forward process could not break, by reason).

    ``workers``: sandbox processes (default this machine's CPUs; with ``ray``, 1 per Ray task).
    ``ray``: ``"local"`` or a Ray cluster address: the searches run as Ray tasks
    (:mod:`kelp.scale`) and this process alone writes the files. Raises
    :class:`SearchDataError` for bad settings and :class:`kelp.scale.ScaleError` (before ``out``
    is made) when Ray is missing or unreachable."""
    from kelp.scale import connect

    config.check()
    with connect(ray):
        return _generate(config, Path(out), workers=workers, quiet=quiet, ray=bool(ray))


def _generate(config: SearchDataConfig, out: Path, *, workers: int | None, quiet: bool, ray: bool) -> dict:
    import os
    from functools import partial

    from kelp.datasets.loaders import load_mbpp
    from kelp.progress import progress_bar
    from kelp.scale import Failed, Work, map_units

    out.mkdir(parents=True, exist_ok=True)
    _claim(config, out / "config.json")
    done = {t["key"] for t in read_records(out / "tasks.jsonl")}
    _drop_unfinished(out / "candidates.jsonl", done)
    dropped = {d["key"]: d["reason"] for d in read_records(out / "dropped.jsonl")}
    problems = load_mbpp(config.split)[: config.n or None]
    jobs = [(f"{p.task_id}/steps{steps}/seed{seed}", (index, steps, seed))
            for index, p in enumerate(problems) for steps in config.steps for seed in config.seeds]
    todo = [(key, job) for key, job in jobs if key not in done and key not in dropped]
    cpus = workers or (1 if ray else os.cpu_count() or 1)
    with progress_bar(enabled=not quiet) as bar:
        task_bar = bar.add_task("search data", total=len(jobs), completed=len(jobs) - len(todo))
        for key, result in map_units(Work(partial(_Searcher, config), _Searcher.search), todo, ray=ray, cpus=cpus):
            bar.advance(task_bar)
            if isinstance(result, Failed):
                result = {"dropped": f"error: {result.reason}"}
            if "dropped" in result:
                append_record(out / "dropped.jsonl", {"key": key, "reason": result["dropped"]})
                dropped[key] = result["dropped"]
                continue
            for candidate in result["candidates"]:  # the task line last: it marks the task finished
                append_record(out / "candidates.jsonl", {"key": key, **candidate})
            append_record(out / "tasks.jsonl", {"key": key, **result["task"]})
    summary = summarize_search_data(out)
    summary["dropped"] = dict(Counter(dropped.values()))
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


class _Searcher:
    """One worker's part: a sandbox pool of ``cpus`` processes and the split's problems; runs
    the search of one (problem, steps, seed) task and labels its candidates."""

    def __init__(self, config: SearchDataConfig, cpus: int) -> None:
        from kelp.datasets.loaders import load_mbpp
        from kelp.execute.sandbox import Limits, Sandbox
        from kelp.repair.search import RepairConfig

        self.config = config
        self.sandbox = Sandbox(workers=cpus, limits=Limits(test_timeout=config.test_timeout))
        self.problems = load_mbpp(config.split)[: config.n or None]
        self.repair_config = RepairConfig(budget=config.budget, seconds=config.seconds, ranker=config.ranker,
                                          stop_at_repair=False)

    def search(self, job: tuple[int, int, int]) -> dict:
        """``{"task": line, "candidates": [lines]}`` (without the key), or ``{"dropped": reason}``
        when the forward process cannot break the problem or the search refuses its input."""
        from kelp.datasets.tasks import prepare_mbpp_task, visible_suite
        from kelp.repair.search import RepairInputError, repair

        index, steps, seed = job
        reasons: Counter = Counter()
        prepared = prepare_mbpp_task(self.problems[index], self.sandbox, steps=steps, policy=self.config.policy,
                                     seed=seed, bank=None, dropped=reasons)
        if prepared is None:
            return {"dropped": next(iter(reasons))}
        task = prepared.task
        suite = visible_suite(task.suite, prepared.initial_run, self.config.visible_tests)
        seen: list = []
        try:
            result = repair(task.source, suite, self.sandbox, self.repair_config, observer=seen.append,
                            intent=task.meta.get("intent", ""))
        except RepairInputError as exc:
            return {"dropped": f"bad input: {exc}"}
        labels: Counter = Counter()
        candidates = []
        for run in seen:
            label = _label(run, task.suite, self.sandbox)
            labels[label] += 1
            candidates.append({**asdict(run), "label": label})
        return {"candidates": candidates,
                "task": {"task_id": task.task_id, "steps": steps, "seed": seed, "source": task.source,
                         "visible": [t.id for t in suite.tests], "solved": result.solved,
                         "labels": {name: labels[name] for name in LABELS}}}

    def close(self) -> None:
        self.sandbox.close()


def _drop_unfinished(path: Path, finished: set) -> None:
    """Cut the candidate lines of tasks without a task line (a run stopped between the two)
    out of ``path``, so that the task's rerun does not add its candidates a second time. The
    file is rewritten to a temporary file and renamed over, so it is never half-written."""
    records = read_records(path)
    kept = [r for r in records if r.get("key") in finished]
    if len(kept) == len(records):
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
    tmp.replace(path)


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
        saved = {"policy": "realistic", **json.loads(path.read_text())}  # folders made before the policy
        if saved != current:
            raise SearchDataError(f"{path.parent} holds data made with other settings; use another folder")
    else:
        path.write_text(json.dumps(current, indent=2) + "\n")
