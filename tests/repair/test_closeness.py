"""Output closeness of failed assertions, and the feedback read from it."""

import ast

from hypothesis import given, strategies as st

from kelp.execute.sandbox import RunResult, TestOutcome
from kelp.repair.closeness import closeness, compared_values, message_closeness
from kelp.repair.enumerate import EnumerativeProposer
from kelp.repair.proposer import Feedback


def test_values_are_read_from_the_sandbox_message():
    msg = "assert f(1) == [1, 2] failed: left = [1, 3], right = [1, 2]"
    assert compared_values(msg) == ("[1, 3]", "[1, 2]")
    # the separator inside a string literal: the split where both sides are literals wins
    assert compared_values("a failed: left = 'x, right = y', right = 'z'") == ("'x, right = y'", "'z'")
    assert compared_values("assert ok(3) failed: got False") is None
    assert message_closeness(None) is None


def test_nearer_values_score_higher():
    assert closeness("[1, 2, 3, 9]", "[1, 2, 3, 4]") > closeness("[9, 9, 9, 9]", "[1, 2, 3, 4]")
    assert closeness("31", "32") > closeness("3", "32") > 0
    assert closeness("None", "32") == 0.0 == closeness("'32'", "32")  # wrong type: no credit
    assert closeness("{3, 1}", "{1, 3}") == 1.0
    assert closeness("<object at 0x1>", "<object at 0x1>") == 1.0  # not literals: the reprs


@given(st.one_of(st.integers(), st.lists(st.integers(), max_size=6), st.text(max_size=8)),
       st.one_of(st.integers(), st.lists(st.integers(), max_size=6), st.text(max_size=8)))
def test_closeness_is_a_similarity(a, b):
    c = closeness(repr(a), repr(b))
    assert 0.0 <= c <= 1.0
    assert closeness(repr(b), repr(b)) == 1.0


def test_a_none_result_makes_a_missing_return_likely():
    source = ("def volume(s):\n    best = 0\n    for i in range(s):\n        j = 1\n"
              "        best = max(best, i * j)\n")
    run = RunResult("ok", [TestOutcome("t0", "fail", "AssertionError",
                                       "assert volume(8) == 18 failed: left = None, right = 18")])
    plain = Feedback(test_calls=("volume",))
    told = Feedback.from_run(run, {}, ["assert volume(8) == 18"])
    assert told.returned_none and not plain.returned_none

    def rank(fb):
        cands = EnumerativeProposer().propose(ast.parse(source), fb)
        return next(i for i, c in enumerate(cands) if c.edit.new == "return best")
    assert rank(told) < rank(plain)
    assert rank(told) < 3
