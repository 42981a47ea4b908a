import json

import pytest

from kelp.datasets.loaders import BenchmarkError, entry_point_of, load_jsonl_tasks, load_mbpp, load_quixbugs


def test_mbpp_splits_have_the_conventional_sizes():
    assert len(load_mbpp("test")) == 500
    assert len(load_mbpp("train")) == 374
    assert len(load_mbpp("all")) == 974
    problem = load_mbpp("test")[0]
    assert problem.task_id == 11 and problem.entry_point == "remove_Occ"
    assert "\r" not in problem.code
    with pytest.raises(BenchmarkError, match="unknown MBPP split"):
        load_mbpp("dev")


def test_quixbugs_has_40_programs_with_pytest_suites():
    tasks = load_quixbugs()
    assert len(tasks) == 40
    gcd = next(t for t in tasks if t.task_id == "gcd")
    assert gcd.suite.kind == "pytest" and "python_programs.gcd" in gcd.suite.module_names
    assert gcd.fixed is not None and "a % b" in gcd.source


def test_entry_point_prefers_the_called_function():
    code = "def helper(x):\n    return x\n\ndef main(x):\n    return helper(x)\n"
    assert entry_point_of(code, ["assert main(1) == 1"]) == "main"


def test_jsonl_tasks_load_all_three_kinds(tmp_path):
    (tmp_path / "test_inc.py").write_text("from inc import inc\n\ndef test_inc():\n    assert inc(1) == 2\n")
    rows = [
        {"task_id": 1, "source": "def f(x):\n    return x - 1\n", "tests": ["assert f(1) == 2"], "fixed": "def f(x):\n    return x + 1\n"},
        {"task_id": "c", "source": "def g(x):\n    return x\n", "check": "def check(candidate):\n    assert candidate(1) == 1\n", "entry_point": "g"},
        {"task_id": "inc", "source": "def inc(x):\n    return x\n", "pytest": ["test_inc.py"], "module_path": "inc.py"},
    ]
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    tasks = load_jsonl_tasks(path)
    assert [t.suite.kind for t in tasks] == ["asserts", "check", "pytest"]
    assert tasks[0].task_id == "1" and tasks[0].fixed.endswith("x + 1\n")
    assert "inc" in tasks[2].suite.module_names


def test_jsonl_errors_name_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"task_id": 1, "source": "x"}\n')
    with pytest.raises(BenchmarkError, match="bad.jsonl:1"):
        load_jsonl_tasks(path)
    with pytest.raises(BenchmarkError, match="not found"):
        load_jsonl_tasks(tmp_path / "missing.jsonl")
