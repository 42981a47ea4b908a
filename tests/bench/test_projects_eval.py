"""`kelp eval projects`: seeded bugs in real packages, repaired with a user's selection and
judged by the package's full suite. Real sandbox, no mocks: a tiny synthetic project built in
tmp_path for the runner and the generator, and a one-bug slice of a bundled project."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from kelp.datasets.jsonl import read_records
from kelp.bench.projects_eval import ProjectsEvalConfig, ProjectsEvalError, run_projects_eval
from kelp.corrupt import corrupt
from kelp.datasets.projects import (
    PROJECTS,
    SUITE_LIMITS,
    Project,
    ProjectBug,
    ProjectError,
    apply_bug,
    apply_edits,
    generate_bugs,
    materialise,
    run_suite,
    select_projects,
    splice_edit,
)
from kelp.execute.sandbox import Sandbox
from kelp.program.tree import normalise

OPS = '''"""Small arithmetic helpers."""


def clamp(x, lo, hi):
    """Clamp x into [lo, hi]."""
    if x < lo:  # below the range
        return lo
    if x > hi:
        return hi
    return x


def scale(x, k):
    """x times k."""
    return x * k
'''

TEST_CLAMP = '''from tinycalc.ops import clamp


def test_inside():
    assert clamp(5, 0, 10) == 5


def test_below():
    assert clamp(-3, 0, 10) == 0


def test_above():
    assert clamp(12, 0, 10) == 10
'''

TEST_SCALE = '''import tinycalc


def test_scale():
    assert tinycalc.scale(3, 4) == 12
    assert tinycalc.scale(-2, 5) == -10
'''


def tiny_project(tmp_path: Path) -> Project:
    """A flat package with absolute imports, two test files: tinycalc-1.0/{tinycalc,tests}."""
    src = tmp_path / "tinycalc-src"
    (src / "tinycalc").mkdir(parents=True)
    (src / "tests").mkdir()
    (src / "tinycalc" / "__init__.py").write_text("from tinycalc.ops import clamp, scale\n")
    (src / "tinycalc" / "ops.py").write_text(OPS)
    (src / "tests" / "test_clamp.py").write_text(TEST_CLAMP)
    (src / "tests" / "test_scale.py").write_text(TEST_SCALE)
    return Project("tinycalc", "1.0", "tinycalc", "tinycalc", ("tests",), "MIT", source=src)


def _edit(text: str, old: str, new: str) -> dict:
    return {"offset": text.index(old), "old": old, "new": new}


def _bug(bug_id: str, edits, selection: str) -> ProjectBug:
    return ProjectBug(bug_id, "tinycalc", "tinycalc/ops.py", "clamp", "module", False,
                      {"family": "hand-made", "before": "", "after": ""}, 0, 0, tuple(edits), selection,
                      selection + "::test_below", 1, ("tests/test_clamp.py",))


def _run(tmp_path: Path, bugs: list[ProjectBug], **settings) -> tuple[dict, list[dict]]:
    out = tmp_path / "out"
    out.mkdir()
    (out / "bugs.json").write_text(json.dumps({"bugs": [b.to_json() for b in bugs], "dropped": {}}))
    config = ProjectsEvalConfig(n=len(bugs), budget=64, seconds=25.0, **settings)
    summary = run_projects_eval(config, out, projects=[tiny_project(tmp_path)], cache_dir=None, workers=1,
                                quiet=True)
    return summary, read_records(out / "results.jsonl")


# ------------------------------------------------------------------------------ data and loader
def test_the_bundled_sdists_match_their_sha256_and_licenses():
    for project in PROJECTS:
        assert hashlib.sha256(project.archive.read_bytes()).hexdigest() == project.sha256, project.key
        assert (project.archive.parent / f"{project.key}.LICENSE").is_file()
        assert project.license in ("MIT", "BSD-3-Clause")
    with pytest.raises(ProjectError, match="unknown project"):
        select_projects(["inflection"])


def test_materialise_moves_a_src_layout_package_to_the_root(tmp_path):
    webcolors = select_projects(["webcolors"])[0]
    root = materialise(webcolors, tmp_path / webcolors.key)
    assert (root / "webcolors" / "__init__.py").is_file() and not (root / "src" / "webcolors").exists()
    assert (root / "tests").is_dir()
    damaged = replace(webcolors, sha256="0" * 64)
    with pytest.raises(ProjectError, match="sha256"):
        materialise(damaged, tmp_path / "again")


def test_a_bug_is_spliced_into_the_file_text_as_a_small_edit():
    for seed in range(6):
        corruption = corrupt(OPS, steps=1, seed=seed, target="clamp")
        mutation = corruption.mutations[0]
        edit = splice_edit(OPS, corruption.source, mutation.path, mutation.after)
        buggy = apply_edits(OPS, [edit])
        assert normalise(buggy) == corruption.source  # the same program as the forward process made
        assert len(edit["old"]) < len(OPS) // 2  # not the whole file
        assert '"""Small arithmetic helpers."""' in buggy and "def scale(x, k):" in buggy
    with pytest.raises(ProjectError, match="does not match"):
        apply_edits(OPS, [{"offset": 0, "old": "nope", "new": ""}])


def test_generated_bugs_are_seeded_reproducible_incremental_and_break_the_suite(tmp_path):
    project = tiny_project(tmp_path)
    with Sandbox(workers=2, limits=SUITE_LIMITS) as sandbox:
        first, dropped = generate_bugs(project, sandbox, 2, seed=3, cache_dir=tmp_path / "cache")
        again, _ = generate_bugs(project, sandbox, 2, seed=3, cache_dir=None)  # from scratch
        one, _ = generate_bugs(project, sandbox, 1, seed=3, cache_dir=tmp_path / "cache")
        assert [b.to_json() for b in first] == [b.to_json() for b in again]
        assert one == first[:1] and len(first) == 2
        assert set(dropped) <= {"no_mutation_site", "never_breaks", "duplicate", "breaks_collection"}
        for bug in first:
            assert bug.file == "tinycalc/ops.py" and bug.function in ("clamp", "scale")
            assert bug.selection.startswith("tests/test_") and bug.failing >= 1
            root = materialise(project, tmp_path / bug.bug_id / project.key)
            apply_bug(root, bug)
            run = run_suite(sandbox, project, root)
            assert run.status == "ok" and bug.failing_test in run.failing_ids


def test_a_slice_of_a_bundled_project_breaks_its_own_suite(tmp_path):
    colorama = select_projects(["colorama"])[0]
    with Sandbox(workers=2, limits=SUITE_LIMITS) as sandbox:
        bugs, _ = generate_bugs(colorama, sandbox, 1, seed=0, cache_dir=None)
        assert len(bugs) == 1
        bug = bugs[0]
        assert bug.file.startswith("colorama/") and "/tests/" not in bug.file
        assert bug.location in ("__init__", "relative_import", "module") and bug.seed > 0
        root = materialise(colorama, tmp_path / colorama.key)
        apply_bug(root, bug)
        run = run_suite(sandbox, colorama, root)
        assert run.status == "ok" and bug.failing_test in run.failing_ids


# ------------------------------------------------------------------------------ runner
def test_a_repair_that_passes_the_full_suite_is_repaired(tmp_path):
    bug = _bug("tinycalc-000", [_edit(OPS, "if x < lo:", "if x > lo:")], "tests/test_clamp.py")
    summary, records = _run(tmp_path, [bug])
    (record,) = records
    assert record["outcome"] == "repaired", record
    assert record["solved"] and record["full_pass"] and record["selected_pass"]
    assert isinstance(record["restored"], bool)  # `not x > lo` is a repair too, without restoring `x < lo`
    assert record["full_suite"] == [4, 4] and record["loaded"] and record["candidate_ran"]
    assert record["diff"].startswith("--- a/tinycalc/ops.py") and "-    if x > lo:  # below the range" in record["diff"]
    assert summary["repaired"] == 1 and summary["per_project"]["tinycalc"]["n"] == 1
    assert summary["per_location"]["module"]["repaired"] == 1 and summary["per_location"]["class"]["n"] == 0
    # a rerun resumes (nothing runs again); other settings are refused
    again = run_projects_eval(ProjectsEvalConfig(n=1, budget=64, seconds=25.0), tmp_path / "out",
                              projects=[tiny_project(tmp_path / "x")], cache_dir=None, workers=1, quiet=True)
    assert again["repaired"] == 1 and len(read_records(tmp_path / "out" / "results.jsonl")) == 1
    with pytest.raises(ProjectsEvalError, match="other settings"):
        run_projects_eval(ProjectsEvalConfig(n=1, budget=8), tmp_path / "out", projects=[], cache_dir=None)


def test_a_repair_that_passes_only_the_selected_tests_is_overfit(tmp_path):
    # two defects: the selection (test_clamp.py) sees only the first; test_scale.py sees the second
    bug = _bug("tinycalc-001", [_edit(OPS, "if x < lo:", "if x > lo:"), _edit(OPS, "return x * k", "return x * k + 1")],
               "tests/test_clamp.py")
    summary, records = _run(tmp_path, [bug])
    (record,) = records
    assert record["outcome"] == "overfit", record
    assert record["solved"] and record["selected_pass"] and not record["full_pass"]
    assert record["full_failing"] == ["tests/test_scale.py::test_scale"] and record["full_suite"] == [3, 4]
    assert summary["overfit"] == 1 and summary["repaired"] == 0 and summary["failure_kinds"] == {"overfit": 1}
    assert summary["overfit_share"] == 1.0
