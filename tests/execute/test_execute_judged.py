"""Judged runs: verdicts decided in a process that never runs the program (Sandbox.verify)."""

import pytest

from kelp.execute import Limits, Sandbox, TestSuite

PROGRAM = ("import math\n"
           "LIMIT = 10\n"
           "def f(x):\n    return x + 1\n"
           "def ordered(xs):\n    return sorted(xs)\n"
           "def sort_in_place(xs):\n    xs.sort()\n"
           "def pick(d, k):\n    return d[k]\n"
           "def pair(a, b):\n    return (a, {b})\n"
           "def evens(n):\n    return (i for i in range(n) if i % 2 == 0)\n")
TESTS = ["assert f(1) == 2",
         "assert ordered([3, 1, 2]) == [1, 2, 3]",
         "xs = [2, 1]\nsort_in_place(xs)\nassert xs == [1, 2]",
         "assert math.isclose(f(0.5), 1.5)",
         "assert pick({'a': 1}, 'a') == 1 and f(LIMIT) == 11",
         "assert pair(1, 'b') == (1, {'b'})",
         "assert list(evens(5)) == [0, 2, 4]",
         "try:\n    pick({}, 'z')\n    raise AssertionError('no KeyError')\nexcept KeyError:\n    pass"]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1, limits=Limits(test_timeout=2.0, job_timeout=20.0)) as sb:
        yield sb


def test_a_correct_program_passes_judged(sandbox):
    result = sandbox.verify(PROGRAM, TestSuite.from_asserts(TESTS))
    assert result.judged and result.all_passed, result


def test_a_wrong_program_fails_judged_with_the_values_reported(sandbox):
    result = sandbox.verify(PROGRAM.replace("x + 1", "x + 2"), TestSuite.from_asserts(TESTS))
    assert result.judged and not result.all_passed
    assert result.outcomes[0].message == "assert f(1) == 2 failed: left = 3, right = 2"


def test_check_suites_are_judged(sandbox):
    suite = TestSuite.from_check("def check(candidate):\n    assert candidate(1) == 2\n", "f")
    assert sandbox.verify(PROGRAM, suite).all_passed
    assert not sandbox.verify(PROGRAM.replace("x + 1", "x"), suite).all_passed


def test_the_program_cannot_shadow_builtins_the_tests_use(sandbox):
    """Otherwise it would compute both sides of the comparison."""
    forger = "def f(x):\n    return 0\ndef sorted(xs):\n    return 'same'\n"
    suite = TestSuite.from_asserts(["assert sorted([f(1)]) == sorted([2])"])
    assert sandbox.run(forger, suite).all_passed  # in-process the shadowing works...
    assert not sandbox.verify(forger, suite).all_passed  # ...judged it does not


def test_objects_stay_in_the_program_and_the_tests_hold_handles(sandbox):
    """Tests that build the program's objects and hand them back (a linked list, a ``Pair``) are
    judged: each object lives in the candidate's process and the judge holds a handle to it."""
    program = ("class Node:\n    def __init__(self, v, nxt=None):\n        self.v, self.nxt = v, nxt\n"
               "    def total(self):\n        return self.v + (self.nxt.total() if self.nxt else 0)\n"
               "    def __eq__(self, other):\n        return isinstance(other, Node) and self.v == other.v\n"
               "    __hash__ = object.__hash__\n"
               "def longest(nodes):\n    return max(n.v for n in nodes)\n"
               "def first(nodes):\n    return nodes[0]\n"
               "def bump(node):\n    node.v += 1\n")
    tests = ["assert longest([Node(5), Node(7)]) == 7",
             "head = Node(1, Node(2))\nassert head.total() == 3 and head.nxt.v == 2",
             "a = Node(4)\nassert first([a, Node(1)]) is a and first([a]) == Node(4)",
             "n = Node(1)\nbump(n)\nassert n.v == 2",
             "n = Node(1)\nn.v = 9\nassert n.total() == 9 and {n: 1}[n] == 1"]
    result = sandbox.verify(program, TestSuite.from_asserts(tests))
    assert result.judged and result.all_passed, result
    wrong = sandbox.verify(program.replace("max(n.v", "min(n.v"), TestSuite.from_asserts(tests[:1]))
    assert wrong.judged and not wrong.all_passed


def test_an_object_never_equals_plain_data_in_a_judged_run(sandbox):
    """An object whose ``__eq__`` says yes to everything would pass every ``assert f(x) == y``."""
    program = "class Yes:\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return Yes()\n"
    suite = TestSuite.from_asserts(["assert f(1) == 2"])
    assert sandbox.run(program, suite).all_passed  # in-process the trick works...
    result = sandbox.verify(program, suite)  # ...judged it does not
    assert result.judged and not result.all_passed


def test_tests_that_hand_over_objects_fall_back_to_an_ordinary_run(sandbox):
    suite = TestSuite.from_asserts(["assert f(lambda: 1) == 1"])
    result = sandbox.verify("def f(g):\n    return g()\n", suite)
    assert not result.judged and result.all_passed


def test_a_program_function_passed_as_an_argument_fails_and_does_not_fall_back(sandbox):
    """The program decides which of its names are callable, so it must not be able to make a
    suite unjudgeable (and so forgeable) by turning a constant into a function."""
    program = "def DATA():\n    return 1\ndef f(d):\n    return 3\n"
    result = sandbox.verify(program, TestSuite.from_asserts(["assert f(DATA) == 3"]))
    assert result.judged and not result.all_passed


def test_programs_that_end_or_hang_are_failures(sandbox):
    suite = TestSuite.from_asserts(["assert f(1) == 2"])
    gone = sandbox.verify("import os\ndef f(x):\n    os._exit(0)\n", suite)
    assert gone.judged and not gone.all_passed
    hung = sandbox.verify("def f(x):\n    while True:\n        pass\n", suite)
    assert not hung.all_passed and hung.outcomes[0].status == "timeout"
    assert sandbox.verify("def f(x):\n    return x + 1\n", suite).all_passed  # the worker recovers


def test_judged_runs_work_from_a_checkout_off_the_import_path():
    # kelp run from a copy of its sources (PYTHONPATH=checkout/src): the sandbox worker runs with
    # -I, so its own files must be in the Landlock read set by their location, not by sys.path.
    import os
    import shutil
    from pathlib import Path
    import subprocess
    import sys

    import kelp

    import tempfile

    tmp_path = Path(tempfile.mkdtemp(prefix="kelp-checkout-"))  # traversable by the sandbox's own uid
    tmp_path.chmod(0o755)
    shutil.copytree(Path(kelp.__file__).parent, tmp_path / "src" / "kelp",
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    script = ("from kelp.execute import Sandbox, TestSuite\n"
              "with Sandbox(workers=1) as sb:\n"
              "    run = sb.verify('def inc(x):\\n    return x + 1\\n', TestSuite.from_asserts(['assert inc(1) == 2']))\n"
              "print(run.judged, run.all_passed, run)\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    shutil.rmtree(tmp_path)
    assert proc.stdout.split()[:2] == ["True", "True"], proc.stdout + proc.stderr
