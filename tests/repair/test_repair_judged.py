"""The search accepts a repair only if it also passes a judged run (verdicts outside the program)."""

from kelp.execute import Limits, Sandbox, TestSuite
from kelp.repair.search import RepairConfig, repair

SUITE = TestSuite.from_asserts(["assert add(1, 2) == 3", "assert add(2, 2) == 4"])


def test_a_repair_is_confirmed_by_a_judged_run():
    with Sandbox(workers=1, limits=Limits(test_timeout=1.0)) as sandbox:
        result = repair("def add(a, b):\n    return a - b\n", SUITE, sandbox, RepairConfig(budget=64))
    assert result.solved and result.judged and result.rejected == 0
    assert "a + b" in result.repaired


def test_a_program_that_forges_its_verdicts_is_not_reported_as_passing():
    forger = ("import sys\n"
              "sys.modules['_kelp_sandbox_child']._classify = lambda exc: ('pass', None, None)\n"
              "def add(a, b):\n    return a - b\n")
    with Sandbox(workers=1, limits=Limits(test_timeout=1.0)) as sandbox:
        assert sandbox.run(forger, SUITE).all_passed  # the forgery works in its own interpreter
        result = repair(forger, SUITE, sandbox, RepairConfig(budget=16))
    assert not result.solved and "forged" in result.reason
