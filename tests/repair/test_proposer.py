"""What the proposers are told: feedback from a test run, and that feedback carried to an
edited program."""

from kelp.execute.results import RunResult, TestOutcome
from kelp.execute.suites import TestCase, TestSuite
from kelp.program.tree import parse
from kelp.repair.enumerate import EnumerativeProposer
from kelp.repair.proposer import Feedback
from kelp.repair.search import _test_sources


def _run():
    return RunResult("ok", [
        TestOutcome("t_ok", "pass"),
        TestOutcome("t_key", "error", "KeyError", "'colour' (line 2)"),
        TestOutcome("t_eq", "fail", "AssertionError",
                    "assert shade(1) == 'navy' failed: left = 'blue', right = 'navy'"),
    ])


def test_the_failing_tests_literals_and_expected_values_are_candidate_constants():
    sources = ["assert shade(0) == 'grey'", "assert get({'color': 1}) == 1", "assert shade(1) == 'navy'"]
    feedback = Feedback.from_run(_run(), {2: 1.0}, sources)
    assert "color" in feedback.failing_constants and "navy" in feedback.failing_constants
    assert "grey" not in feedback.failing_constants  # a passing test's literal
    assert "grey" in feedback.test_constants


def test_a_string_from_a_failing_test_ranks_first_at_a_wrong_string_constant():
    tree = parse("def get(d):\n    x = 'alpha'\n    y = 'beta'\n    return d['colour']\n")
    feedback = Feedback.from_run(_run(), {4: 1.0}, ["assert 1", "assert get({'color': 1}) == 1", "assert 1"])
    at_key = [c for c in EnumerativeProposer().propose(tree, feedback)
              if c.family == "change_constant" and c.edit.path[-1] == "slice"]
    assert at_key[0].edit.new == "'color'"


def test_feedback_carried_to_an_edited_program_reads_lines_and_error_lines_through_the_map():
    feedback = Feedback.from_run(_run(), {1: 0.2, 2: 1.0}, ["", "", ""])
    assert feedback.error_lines("KeyError") == {2}
    moved = feedback.at_lines((None, 1, None, 2))  # a line inserted before line 2
    assert moved.lines == {1: 0.2, 2: 0.5, 3: 1.0}  # new code: half the likelier line around it
    assert moved.error_lines("KeyError") == {3}
    assert moved.failing_constants == feedback.failing_constants


def test_pytest_test_sources_are_read_from_the_test_files(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_shade.py").write_text(
        "from shade import shade\n\n\ndef test_navy():\n    assert shade(1) == 'navy'\n\n\n"
        "class TestGrey:\n    def test_grey(self, n=0):\n        assert shade(n) == 'grey'\n")
    ids = ["tests/test_shade.py::test_navy", "tests/test_shade.py::TestGrey::test_grey[0]",
           "tests/test_shade.py::test_gone", "tests/missing.py::test_x"]
    suite = TestSuite("pytest", tests=[TestCase(i) for i in ids], rootdir=str(tmp_path))
    found = _test_sources(suite, ids)
    assert found == {ids[0]: "def test_navy():\n    assert shade(1) == 'navy'",
                     ids[1]: "def test_grey(self, n=0):\n        assert shade(n) == 'grey'"}
