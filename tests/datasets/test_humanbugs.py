"""The bundled human-style bug set: well formed, ten bugs per class, and every bug real (the
reference passes its tests, the buggy program fails at least one), checked in the real sandbox."""

from collections import Counter

from kelp.datasets.loaders import HUMANBUGS_FILE, load_jsonl_tasks
from kelp.execute.sandbox import Sandbox

CATEGORIES = {"missing logic", "excess logic", "value misuse", "operator misuse", "variable misuse",
              "function misuse"}


def test_sixty_bugs_in_mbpp_training_problems_ten_per_class():
    tasks = load_jsonl_tasks(HUMANBUGS_FILE)
    meta = [t.meta["meta"] for t in tasks]
    assert len(tasks) == 60 and len({t.task_id for t in tasks}) == 60
    assert Counter(m["category"] for m in meta) == {c: 10 for c in CATEGORIES}
    assert all(601 <= m["mbpp_task_id"] <= 974 for m in meta)  # the train split only
    assert len({m["mbpp_task_id"] for m in meta}) == 60


def test_every_reference_passes_and_every_bug_fails_a_test():
    tasks = load_jsonl_tasks(HUMANBUGS_FILE)
    with Sandbox(workers=2) as sandbox:
        for task in tasks:
            fixed = sandbox.run(task.fixed, task.suite)
            assert fixed.status == "ok" and fixed.all_passed, task.task_id
            buggy = sandbox.run(task.source, task.suite)
            assert not (buggy.status == "ok" and buggy.all_passed), task.task_id
