"""Repair tasks from clean programs: the forward process applied, with the must-break filter.

Kelp's seed eval counted corruptions that broke no test (96% of its "solved" cases never failed
a test). Here a corruption is kept only if at least one test fails on it; a task whose seeded
corruptions never break a test is dropped and counted, with the reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from kelp.corrupt import CorruptionError, SubtreeBank, corrupt
from kelp.datasets.loaders import MbppProblem, RepairTask
from kelp.execute.sandbox import RunResult, Sandbox
from kelp.execute.suites import TestSuite
from kelp.program.tree import normalise

#: Seeds tried per task before giving up on finding a corruption that breaks a test.
MAX_ATTEMPTS = 8


@dataclass
class PreparedTask:
    """A kept task and the coverage run that showed it fails (reused by the search)."""

    task: RepairTask
    initial_run: RunResult


def task_seed(seed: int, task_id: int, attempt: int) -> int:
    """The corruption seed for one attempt on one task: a fixed function of the eval seed."""
    return (seed * 1_000_003 + task_id * 7_919 + attempt * 104_729) % (2**31 - 1)


def prepare_mbpp_task(problem: MbppProblem, sandbox: Sandbox, *, steps: int, policy: str, seed: int,
                      bank: SubtreeBank | None, dropped: Counter) -> PreparedTask | None:
    """Corrupt ``problem.code`` until a test breaks (at most ``MAX_ATTEMPTS`` seeds).

    Returns ``None`` and counts the reason in ``dropped`` when the task cannot be used:
    ``reference_fails``, ``no_mutation_site``, ``never_breaks``.
    """
    suite = problem.suite()
    for attempt in range(MAX_ATTEMPTS):
        try:
            corruption = corrupt(problem.code, steps=steps, seed=task_seed(seed, problem.task_id, attempt),
                                 policy=policy, bank=bank)
        except CorruptionError:
            dropped["no_mutation_site"] += 1
            return None
        run = sandbox.run(corruption.source, suite, coverage=True, continue_after_timeout=True)
        if run.status == "ok" and run.all_passed:
            continue
        task = RepairTask(
            task_id=str(problem.task_id), source=corruption.source, suite=suite, fixed=normalise(problem.code),
            entry_point=problem.entry_point,
            meta={"attempt": attempt, "corruption_seed": corruption.seed, "intent": problem.text,
                  "mutations": [{"family": m.family, "path": list(m.path), "before": m.before, "after": m.after}
                                for m in corruption.mutations]})
        return PreparedTask(task, run)
    dropped["never_breaks"] += 1
    return None


def first_broken_mbpp(split: str, sandbox: Sandbox, n: int, *, steps: int = 1, seed: int = 0) -> list:
    """``[(problem, PreparedTask)]`` for the first ``n`` tasks of an MBPP split that a seeded
    realistic corruption with ``steps`` mutations breaks: the tasks ``kelp eval`` repairs, in
    the same order and with the same seeds (dropped tasks are skipped)."""
    from kelp.datasets.loaders import load_mbpp

    tasks = []
    for problem in load_mbpp(split):
        if len(tasks) >= n:
            break
        prepared = prepare_mbpp_task(problem, sandbox, steps=steps, policy="realistic", seed=seed, bank=None,
                                     dropped=Counter())
        if prepared is not None:
            tasks.append((problem, prepared))
    return tasks


def visible_suite(suite: TestSuite, run: RunResult, k: int) -> TestSuite:
    """The ``k`` tests of ``suite`` a search is shown: the first that ``run`` (of the buggy
    program) failed, then the others in suite order. The rest stay hidden, for judging the
    repair (a patch that passes the visible tests only is plausible, not correct: Qi et al.
    2015; Smith et al. 2015, "Is the cure worse than the disease?")."""
    failing = run.failing_ids
    first = [t for t in suite.tests if failing and t.id == failing[0]]
    rest = [t for t in suite.tests if not first or t.id != first[0].id]
    return replace(suite, tests=tuple((first + rest)[:k]))
