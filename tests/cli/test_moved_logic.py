"""What left the command line for the layers below: reading `kelp repair`'s inputs
(kelp.repair.inputs), building proposers (kelp.repair.proposers), the unified diff
(kelp.program.unified_diff). Real files in tmp_path, no sandbox."""

from pathlib import Path

import pytest

from kelp.errors import KelpError
from kelp.program.unified_diff import unified_diff
from kelp.repair.inputs import (
    MAX_FUNCTIONS,
    MAX_NESTING,
    InputError,
    collect_tests,
    load_repair_inputs,
    read_text,
    suite_from_pytest_args,
)
from kelp.repair.proposers import ProposerError, make_proposers


def test_unified_diff_keeps_tabs_long_lines_and_git_headers():
    before = "def f(x):\n\tlabel = 'a\tb'\n    return x - 1\n" + "# " + "y" * 300 + "\n"
    after = before.replace("x - 1", "x + 1")
    diff = unified_diff(before, after, "pkg/prog.py")
    assert diff.startswith("--- a/pkg/prog.py\n+++ b/pkg/prog.py\n@@ ")
    assert "-    return x - 1\n+    return x + 1\n" in diff and "\tlabel = 'a\tb'\n" in diff
    assert "y" * 300 in diff
    assert unified_diff(before, before, "prog.py") == ""


def test_inputs_give_source_suite_and_intent(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text('def double(x):\n    """Twice x."""\n    return x + x + 1\n')
    tests = tmp_path / "tests.py"
    tests.write_text("K = 2\nassert double(K) == 4\nassert double(0) == 0\n")
    inputs = load_repair_inputs(prog, tests=tests)
    assert inputs.source == prog.read_text() and inputs.intent == "Twice x."
    assert inputs.suite.kind == "asserts" and len(inputs.suite.tests) == 2 and inputs.suite.setup == "K = 2"
    assert collect_tests(inputs, sandbox=None) is inputs  # only pytest suites are collected
    tests.write_text("def check(candidate):\n    assert candidate(2) == 4\n")
    assert load_repair_inputs(prog, tests=tests).suite.kind == "check"


def test_a_tests_file_that_interleaves_statements_and_asserts_replays_them_per_assert(tmp_path):
    """A scenario file (build, check, build again, check) means what running it means: each
    assert sees the state the statements before it built, earlier asserts included (their
    expressions are evaluated, a failure among them does not stop the later ones)."""
    prog = tmp_path / "prog.py"
    prog.write_text("class Stack:\n    def __init__(self):\n        self.items = []\n")
    tests = tmp_path / "tests.py"
    tests.write_text("import math\ns = [1]\nassert s.pop() == 1\ns.append(2)\nassert s == [2]\n"
                     "s = []\nassert not s\n")
    suite = load_repair_inputs(prog, tests=tests).suite
    assert suite.setup == "import math\ns = [1]"
    assert [t.source for t in suite.tests] == [
        "assert s.pop() == 1",
        "try:\n    s.pop() == 1\nexcept Exception:\n    pass\ns.append(2)\nassert s == [2]",
        "try:\n    s.pop() == 1\nexcept Exception:\n    pass\ns.append(2)\ntry:\n    s == [2]\n"
        "except Exception:\n    pass\ns = []\nassert not s"]


@pytest.mark.parametrize("tests, pytest_args", [(None, None), ("tests.py", "tests.py")])
def test_exactly_one_kind_of_tests(tmp_path, tests, pytest_args):
    (tmp_path / "prog.py").write_text("def f():\n    return 1\n")
    with pytest.raises(InputError, match="exactly one of --tests FILE, --pytest"):
        load_repair_inputs(tmp_path / "prog.py", tests=tests and tmp_path / tests, pytest_args=pytest_args)


def test_input_errors_are_kelp_errors_with_the_file_named(tmp_path):
    assert issubclass(InputError, KelpError)
    with pytest.raises(InputError, match="file not found: .*nope.py"):
        read_text(tmp_path / "nope.py", "file")
    with pytest.raises(InputError, match="is not a regular file"):
        read_text(tmp_path, "tests file")
    prog = tmp_path / "prog.py"
    prog.write_text("".join(f"def f{i}():\n    pass\n" for i in range(MAX_FUNCTIONS + 1)))
    with pytest.raises(InputError, match="2,001 functions"):
        load_repair_inputs(prog, tests=tmp_path / "unread.py")
    # an expression nested deeper than kelp's tree walks go: a clear error, not a RecursionError
    prog.write_text("def f(a):\n    return " + " + ".join(["a"] * (MAX_NESTING + 10)) + "\n")
    with pytest.raises(InputError, match="nested .* deep"):
        load_repair_inputs(prog, tests=tmp_path / "unread.py")


def test_pytest_arguments_naming_files_are_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prog.py").write_text("def f():\n    return 1\n")
    (tmp_path / "test_prog.py").write_text("from prog import f\n\ndef test_f():\n    assert f() == 2\n")
    suite = suite_from_pytest_args("test_prog.py::test_f -q", Path("prog.py"), tmp_path)
    assert suite.kind == "pytest" and suite.rootdir == str(tmp_path)
    assert suite.pytest_args == (f"{tmp_path}/test_prog.py::test_f", "-q")
    with pytest.raises(KelpError, match="pytest path not found"):
        suite_from_pytest_args("missing.py", Path("prog.py"), tmp_path)


def test_proposers_are_built_in_the_repair_layer():
    import kelp.bench.evaluate

    assert kelp.bench.evaluate.make_proposers is make_proposers  # the eval driver uses the same builder
    assert [p.name for p in make_proposers("enum", None)] == ["enum"]
    with pytest.raises(ProposerError, match="several joined by commas"):
        make_proposers("enum,psychic", None)
    with pytest.raises(ProposerError, match="model-weight"):
        make_proposers("both", None, weight=2.0)
    assert issubclass(ProposerError, KelpError)
