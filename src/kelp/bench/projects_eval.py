"""`kelp eval projects`: repair seeded bugs in real packages, judged by each package's full suite.

For each bug (:mod:`kelp.datasets.projects`): the buggy tree is materialised in a temp dir;
kelp repairs the buggy file as ``kelp repair FILE --pytest SELECTION`` would, run from the
project's root (same input checks, collection and search, with the per-test ``--timeout``);
a patch kelp reports is written into the tree and the project's FULL suite runs on it, in the
sandbox (the patch is untrusted), with the package imported from disk as pytest imports it.

Outcome per bug: ``repaired`` (kelp reported a patch and the full suite passes), ``overfit``
(the selected tests pass on the patched tree, the full suite does not), ``not_repaired`` (no
patch, or a patch that fails even the selected tests on disk: a *false claim*). Each record
says why: the search's reason, and whether the buggy program loaded in the sandbox at all
(``loaded``, ``load_message``) and whether the selected tests ran it (``candidate_ran``).
Tests that fail on the clean tree in the judge (``summary.json``'s ``clean_failing``) are left
out of every verdict.

Written as it goes: ``DIR/bugs.json`` (the bug list used: a rerun reuses it),
``DIR/results.jsonl`` (one line per bug; a rerun resumes), ``DIR/config.json`` (a rerun with
other settings is refused) and ``DIR/summary.json`` (:func:`summarize_projects`).

Result line schema: bug_id, project, file, function, location (``__init__`` |
``relative_import`` | ``module``), in_class, mutation, seed, selection, outcome, solved
(kelp's claim), false_claim, selected_pass / full_pass (null without a patch), full_suite
([passed, total]), full_failing (up to 5 ids), restored (the patch restores the original
file's AST), diff (of the patch), loaded, load_message, candidate_ran, executions,
executions_to_solve, tests_before / tests_after, edits, reason, seconds (kelp's wall time,
from reading the inputs), judge_seconds, judge_excluded (clean-tree failures left out).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from statistics import median

from kelp.datasets.jsonl import append_record, read_records
from kelp.bench.metrics import bootstrap_ci
from kelp.datasets.projects import (
    DEFAULT_CACHE,
    SUITE_LIMITS,
    Project,
    ProjectBug,
    ProjectError,
    apply_bug,
    clean_baseline,
    load_bugs,
    materialise,
    run_suite,
    select_projects,
    workdir,
)
from kelp.errors import KelpError
from kelp.execute.sandbox import Limits, Sandbox
from kelp.program.tree import normalise
from kelp.program.unified_diff import unified_diff
from kelp.repair.inputs import collect_tests, load_repair_inputs, regression_suite
from kelp.repair.proposers import make_proposers
from kelp.repair.search import RepairConfig, repair

#: Location kinds of the per-location breakdown; ``class`` (a method) overlaps the others.
LOCATIONS = ("__init__", "relative_import", "module", "class")


class ProjectsEvalError(KelpError, ValueError):
    """Bad settings, or an output directory that holds a run with other settings."""


@dataclass(frozen=True)
class ProjectsEvalConfig:
    """Everything that determines the results (saved as ``config.json``). ``projects``: names
    (empty: all bundled ones); ``test_timeout``: seconds per test in the repair, as
    ``kelp repair --timeout``; ``regression``: as ``kelp repair --regression`` (a patch found on
    the selection must keep the project's default pytest run passing where it passed);
    ``ranker``: as :attr:`RepairConfig.ranker`."""

    n: int = 100
    budget: int = 256
    seed: int = 0
    seconds: float = 120.0
    test_timeout: float = 2.0
    projects: tuple[str, ...] = ()
    proposer: str = "enum"
    regression: bool = True
    ranker: str | None = None

    def check(self) -> None:
        """Raise :class:`ProjectsEvalError` for settings out of range."""
        if self.n < 1 or self.budget < 1 or self.seconds <= 0 or self.test_timeout <= 0:
            raise ProjectsEvalError("--n and --budget must be >= 1, --seconds and --timeout > 0")


def run_projects_eval(config: ProjectsEvalConfig, out: Path, *, projects: list[Project] | None = None,
                      cache_dir: Path | None = DEFAULT_CACHE, workers: int | None = None,
                      quiet: bool = False, ray: str | None = None) -> dict:
    """Run (or resume) the benchmark into ``out``; returns the summary dict.

    ``projects`` replaces the bundled ones (tests use small synthetic projects); ``cache_dir``
    holds generated bug lists (None: no cache); ``workers``: processes of each sandbox pool
    (with ``ray``, of each Ray task's pools, default 1). ``ray``: ``"local"`` or a Ray cluster
    address: the bugs are repaired as Ray tasks (:mod:`kelp.scale`; the bug list is made here
    first) and this process alone writes the results. Raises :class:`ProjectsEvalError` for bad
    settings and :class:`kelp.scale.ScaleError` (before ``out`` is made) when Ray is missing or
    unreachable."""
    from kelp.scale import connect

    config.check()
    with connect(ray):
        return _run_projects_eval(config, Path(out), projects, cache_dir, workers, quiet, bool(ray))


def _run_projects_eval(config: ProjectsEvalConfig, out: Path, projects: list[Project] | None,
                       cache_dir: Path | None, workers: int | None, quiet: bool, ray: bool) -> dict:
    from kelp.progress import progress_bar
    from kelp.scale import Failed, Work, map_units

    chosen = projects if projects is not None else select_projects(config.projects)
    out.mkdir(parents=True, exist_ok=True)
    _check_config(config, out / "config.json")
    results_path = out / "results.jsonl"
    done = {r["bug_id"]: r for r in read_records(results_path) if "bug_id" in r}
    with Sandbox(workers=workers, limits=SUITE_LIMITS) as judge:
        bugs, dropped = _bug_list(out / "bugs.json", chosen, judge, config, cache_dir, quiet)
    clean: dict = {}
    todo = [(bug.bug_id, bug) for bug in bugs if bug.bug_id not in done]
    work = Work(partial(_BugWorker, config, chosen), _BugWorker.evaluate)
    with progress_bar(enabled=not quiet) as bar:
        task = bar.add_task("eval projects", total=len(bugs), completed=len(bugs) - len(todo))
        for bug_id, result in map_units(work, todo, ray=ray, cpus=workers or (1 if ray else os.cpu_count() or 1)):
            if isinstance(result, Failed):
                bug = next(b for b in bugs if b.bug_id == bug_id)
                record = _unrun(bug)
                record["reason"] = f"internal error: {result.reason}"[:2000]
            else:
                record, (project, baseline) = result
                clean[project] = baseline
            append_record(results_path, record)
            done[bug_id] = record
            repaired = sum(1 for r in done.values() if r["outcome"] == "repaired")
            bar.update(task, advance=1, description=f"eval projects repaired {repaired}/{len(done)}")
    records = [done[b.bug_id] for b in bugs if b.bug_id in done]
    summary = summarize_projects(records, dropped=dropped, seed=config.seed)
    summary["clean_failing"] = {name: failing if problem is None else problem
                                for name, (failing, problem) in sorted(clean.items()) if failing or problem}
    summary["config"] = asdict(config)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


class _BugWorker:
    """One worker's part of the benchmark: its sandbox pools (the repair's and the judge's, of
    ``cpus`` processes each), a work folder holding each project's clean tree (made at its first
    bug), the proposers."""

    def __init__(self, config: ProjectsEvalConfig, projects: list[Project], cpus: int) -> None:
        self.config = config
        self.projects = {p.name: p for p in projects}
        self.stack = contextlib.ExitStack()
        self.judge = self.stack.enter_context(Sandbox(workers=cpus, limits=SUITE_LIMITS))
        self.sandbox = self.stack.enter_context(Sandbox(workers=cpus, limits=Limits(test_timeout=config.test_timeout)))
        self.tmp = self.stack.enter_context(workdir("kelp-projects-"))
        self.proposers = make_proposers(config.proposer, None)
        self.repair_config = RepairConfig(budget=config.budget, seconds=config.seconds, ranker=config.ranker)
        self.clean: dict = {}

    def evaluate(self, bug: ProjectBug) -> tuple[dict, tuple[str, tuple]]:
        """The bug's result line, and its project's clean baseline ``(name, (failing tests,
        problem))``."""
        project = self.projects[bug.project]
        if project.name not in self.clean:
            self.clean[project.name] = _clean_tree(project, self.tmp / "clean" / project.key, self.judge)
        record = evaluate_bug(bug, project, self.clean[project.name], self.sandbox, self.judge, self.repair_config,
                              self.proposers, self.config.seconds, regression=self.config.regression)
        return record, (project.name, self.clean[project.name][1:])

    def close(self) -> None:
        self.stack.close()


def _bug_list(path: Path, projects: list[Project], judge: Sandbox, config: ProjectsEvalConfig,
              cache_dir: Path | None, quiet: bool) -> tuple[list[ProjectBug], dict]:
    """The run's bugs: from ``path`` when a run already chose them, else generated (or read
    from the cache) and saved there."""
    if path.exists():
        saved = json.loads(path.read_text())
        return [ProjectBug.from_json(b) for b in saved["bugs"]], saved.get("dropped", {})
    if not quiet:
        from kelp.progress import progress_bar

        with progress_bar(enabled=True) as bar:
            bar.add_task("generating bugs (must-break filter, full suites)", total=None)
            bugs, dropped = load_bugs(projects, judge, config.n, seed=config.seed, cache_dir=cache_dir)
    else:
        bugs, dropped = load_bugs(projects, judge, config.n, seed=config.seed, cache_dir=cache_dir)
    part = path.with_suffix(".tmp")
    part.write_text(json.dumps({"n": config.n, "seed": config.seed, "projects": [p.key for p in projects],
                                "dropped": dropped, "bugs": [b.to_json() for b in bugs]}, indent=1) + "\n")
    part.replace(path)
    return bugs, dropped


def _clean_tree(project: Project, root: Path, judge: Sandbox) -> tuple[Path, list[str] | None, str | None]:
    """The clean tree of ``project`` at ``root``, the tests that fail on it in the judge (left
    out of every verdict; None when the clean suite does not run) and why it does not run."""
    root = materialise(project, root)
    try:
        return root, clean_baseline(judge, project, root)[1], None
    except ProjectError as exc:
        return root, None, str(exc)


def evaluate_bug(bug: ProjectBug, project: Project, clean: tuple[Path, list[str] | None, str | None],
                 sandbox: Sandbox, judge: Sandbox, config: RepairConfig, proposers, seconds: float,
                 regression: bool = True) -> dict:
    """Repair one bug on a fresh copy of the clean tree and judge the patch (module docstring).
    ``clean``: :func:`_clean_tree`'s answer for the bug's project; ``regression``: vet patches
    with the project's default pytest run, as ``kelp repair`` does by default."""
    clean_root, clean_failing, problem = clean
    record = _unrun(bug)
    with workdir("kelp-projects-bug-") as tmp:
        root = tmp / project.key
        shutil.copytree(clean_root, root)
        original = (root / bug.file).read_text(encoding="utf-8")
        buggy = apply_bug(root, bug)
        started = time.monotonic()
        try:
            with contextlib.chdir(root):  # as the user runs it: cd ROOT && kelp repair FILE --pytest SELECTION
                inputs = load_repair_inputs(Path(bug.file), pytest_args=bug.selection)
            inputs = collect_tests(inputs, sandbox)
            left = max(0.0, seconds - (time.monotonic() - started))
            result = repair(inputs.source, inputs.suite, sandbox, replace(config, seconds=left),
                            proposers=proposers, intent=inputs.intent,
                            regression=regression_suite(inputs.suite) if regression else None)
        except KelpError as exc:
            record.update(reason=f"bad input: {type(exc).__name__}: {exc}"[:2000],
                          seconds=round(time.monotonic() - started, 3))
            return record
        except Exception as exc:  # noqa: BLE001 - one bug's failure must not lose the run; it is recorded
            record.update(reason=f"internal error: {type(exc).__name__}: {exc}"[:2000],
                          seconds=round(time.monotonic() - started, 3))
            return record
        record.update(result.to_json())
        record["seconds"] = round(time.monotonic() - started, 3)
        run0 = result.initial_run
        record["loaded"] = run0.status == "ok"
        record["load_message"] = None if run0.status == "ok" else f"{run0.status}: {run0.message}"[:1000]
        record["candidate_ran"] = bool(run0.coverage and any(run0.coverage.values())) if run0.status == "ok" else False
        if not result.solved:
            return record
        patched = result.repaired
        (root / bug.file).write_text(patched, encoding="utf-8")
        record["diff"] = unified_diff(buggy, patched, bug.file)
        record["restored"] = _same(patched, original)
        if problem is not None:
            record.update(false_claim=None, reason=f"unjudged: {problem}"[:2000])
            return record
        t0 = time.monotonic()
        full = run_suite(judge, project, root, exclude=clean_failing)
        record["judge_excluded"] = len(clean_failing)
        record["judge_seconds"] = round(time.monotonic() - t0, 3)
        selected = _selected(bug.selection)
        mine = [o for o in full.outcomes if o.test_id == selected or o.test_id.startswith(selected + "::")]
        record["selected_pass"] = full.status == "ok" and bool(mine) and all(o.status == "pass" for o in mine)
        record["full_pass"] = full.all_passed
        record["full_suite"] = [full.passed, full.total]
        record["full_failing"] = full.failing_ids[:5] or ([f"{full.status}: {full.message}"[:500]] if full.status != "ok" else [])
        if record["full_pass"]:
            record["outcome"] = "repaired"
        elif record["selected_pass"]:
            record["outcome"] = "overfit"
        else:
            record["false_claim"] = True
    return record


def _unrun(bug: ProjectBug) -> dict:
    """The result line of ``bug`` before its repair runs (not repaired, nothing run)."""
    record = {k: v for k, v in bug.to_json().items() if k not in ("edits", "failing_files")}
    record.update(outcome="not_repaired", solved=False, false_claim=False, selected_pass=None, full_pass=None,
                  restored=False, loaded=None, load_message=None, candidate_ran=None, executions=0,
                  executions_to_solve=None, seconds=0.0, judge_seconds=0.0)
    return record


def _selected(selection: str) -> str:
    import shlex

    return shlex.split(selection)[0]


def _same(a: str, b: str) -> bool:
    try:
        return normalise(a) == normalise(b)
    except Exception:  # noqa: BLE001 - an unparsable text is simply not the same
        return False


def failure_kind(record: dict) -> str | None:
    """Why a bug was not repaired, in a few buckets (None when repaired)."""
    if record["outcome"] == "repaired":
        return None
    if record["outcome"] == "overfit":
        return "overfit"
    if record.get("false_claim"):
        return "false claim (the patch fails the selected tests on disk)"
    reason = record.get("reason") or ""
    if reason.startswith("unjudged"):
        return "unjudged (the clean suite does not run in the judge)"
    if reason.startswith(("bad input", "internal error")):
        return reason.split(":", 1)[0] + ": " + reason.split(":", 2)[1].strip()
    if record.get("loaded") is False:
        message = record.get("load_message") or ""
        return "program does not load in the sandbox" + (" (relative import)" if "relative import" in message else "")
    if record.get("candidate_ran") is False:
        return "the selected tests never run the candidate"
    return reason or "unknown"


def _group(records: list[dict], seed: int) -> dict:
    n = len(records)
    repaired = [1.0 if r["outcome"] == "repaired" else 0.0 for r in records]
    return {"n": n, "repaired": int(sum(repaired)),
            "overfit": sum(1 for r in records if r["outcome"] == "overfit"),
            "not_repaired": sum(1 for r in records if r["outcome"] == "not_repaired"),
            "repaired_rate": round(sum(repaired) / n, 4) if n else 0.0,
            "ci95": bootstrap_ci(repaired, seed=seed)}


def summarize_projects(records: list[dict], *, dropped: dict | None = None, seed: int = 0) -> dict:
    """``summary.json``: n; repaired, overfit, not_repaired with rates and task-level bootstrap
    95% CIs; overfit_share (overfit / patches judged by the full suite, ``None`` without any);
    false_claims; claimed (kelp reported a patch); restored; loaded (the buggy
    program loaded in the sandbox); median and max seconds; failure_kinds (bucket -> count);
    per_project and per_location (``__init__``, ``relative_import``, ``module``, and ``class``
    for methods, overlapping the others): n, repaired, overfit, not_repaired, repaired_rate,
    ci95; dropped (bug-generation attempts dropped, by reason). :func:`run_projects_eval` adds
    clean_failing (project -> tests failing on its clean tree, or why that suite does not run)
    and config."""
    n = len(records)
    seconds = [r.get("seconds", 0.0) for r in records]
    overfit = [1.0 if r["outcome"] == "overfit" else 0.0 for r in records]
    judged = [r for r in records if r["outcome"] in ("repaired", "overfit")]
    per_location = {}
    for kind in LOCATIONS:
        chosen = [r for r in records if (r.get("in_class") if kind == "class" else r.get("location") == kind)]
        per_location[kind] = _group(chosen, seed)
    return {
        **_group(records, seed),
        "overfit_rate": round(sum(overfit) / n, 4) if n else 0.0,
        "overfit_ci95": bootstrap_ci(overfit, seed=seed),
        "overfit_share": round(sum(overfit) / len(judged), 4) if judged else None,
        "false_claims": sum(1 for r in records if r.get("false_claim")),
        "claimed": sum(1 for r in records if r.get("solved")),
        "restored": sum(1 for r in records if r.get("restored")),
        "loaded": sum(1 for r in records if r.get("loaded")),
        "median_seconds": round(median(seconds), 3) if seconds else 0.0,
        "max_seconds": round(max(seconds), 3) if seconds else 0.0,
        "failure_kinds": dict(Counter(k for k in map(failure_kind, records) if k).most_common()),
        "per_project": {name: _group([r for r in records if r["project"] == name], seed)
                        for name in dict.fromkeys(r["project"] for r in records)},
        "per_location": per_location,
        "dropped": dict(dropped or {}),
    }


def _check_config(config: ProjectsEvalConfig, path: Path) -> None:
    current = json.loads(json.dumps(asdict(config)))
    if path.exists():
        saved = json.loads(path.read_text())
        if saved != current:
            diff = {k: (saved.get(k), v) for k, v in current.items() if saved.get(k) != v}
            raise ProjectsEvalError(f"{path.parent} holds a run with other settings {diff}; use another --out")
    else:
        path.write_text(json.dumps(current, indent=2) + "\n")


__all__ = ["LOCATIONS", "ProjectsEvalConfig", "ProjectsEvalError", "evaluate_bug", "failure_kind",
           "run_projects_eval", "summarize_projects"]
