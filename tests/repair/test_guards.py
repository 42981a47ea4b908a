"""Missing-guard synthesis: conditions rebuilt from the program, and a real repair in the sandbox."""

import ast

import pytest

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.program.scope import bindings
from kelp.repair.guards import guard_alternatives
from kelp.repair.proposer import Doomed
from kelp.repair.search import RepairConfig, repair
from kelp.repair.unused import unused_definitions

# `if ele not in seen:` was dropped around the two statements.
DROPPED_MEMBERSHIP = '''def unique(items):
    seen = set()
    out = []
    for ele in items:
        seen.add(ele)
        out.append(ele)
    return out
'''
# `if arr[i] > arr[j]:` was dropped: `arr` is now a dead parameter.
DROPPED_COMPARISON = '''def inversions(arr, n):
    count = 0
    for i in range(n):
        for j in range(i + 1, n):
            count += 1
    return count
'''


def _guards(source, doomed=False):
    """(block path, first statement, statements wrapped) -> [(weight, guarded owner source)], of
    the guards that can run (``doomed``: of those that raise on every run)."""
    tree = ast.parse(source)
    func = tree.body[0]
    dead = [u.name for u in unused_definitions(tree, bindings(tree))]
    out = {}
    for key, owner_path, new_owner, weight in guard_alternatives(tree, ("body", 0), func, dead):
        if isinstance(new_owner, Doomed) == doomed:
            out.setdefault(key[1:], []).append((weight, ast.unparse(getattr(new_owner, "node", new_owner))))
    return out


def test_membership_guard_over_the_two_statements_is_the_best_for_that_run():
    guards = _guards(DROPPED_MEMBERSHIP)
    loop_body = ("body", 0, "body", 2, "body")
    best = max(guards[(loop_body, 0, 2)])
    assert "if ele not in seen:\n        seen.add(ele)\n        out.append(ele)" in best[1], best


def test_guards_compare_items_of_a_dead_sequence():
    texts = [g for gs in _guards(DROPPED_COMPARISON).values() for _, g in gs]
    assert any("if arr[j] > arr[i]:" in t or "if arr[i] > arr[j]:" in t for t in texts)
    assert not any("j[i]" in t for t in texts)  # a dead loop variable is no sequence


def test_guards_never_wrap_the_whole_function_body():
    tree = ast.parse("def f(x):\n    y = x + 1\n")
    assert list(guard_alternatives(tree, ("body", 0), tree.body[0])) == []


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as box:
        yield box


def test_a_dropped_membership_guard_is_repaired_for_real(sandbox):
    suite = TestSuite.from_asserts(["assert unique([1, 2, 1, 3, 2]) == [1, 2, 3]", "assert unique([]) == []",
                                    "assert unique(['a', 'a']) == ['a']"])
    result = repair(DROPPED_MEMBERSHIP, suite, sandbox, RepairConfig(budget=64))
    assert result.solved, result.reason
    # either guard is a correct repair (`seen` or `out` both hold what was emitted so far)
    assert "if ele not in seen:" in result.repaired or "if ele not in out:" in result.repaired


def test_guards_are_proposed_only_at_the_root_state():
    from kelp.repair.enumerate import EnumerativeProposer
    from kelp.repair.proposer import Feedback
    tree = ast.parse(DROPPED_MEMBERSHIP)
    families = lambda k: {c.family for c in EnumerativeProposer().propose(tree, Feedback(), k)}
    assert "missing_guard" in families(None) and "missing_guard" not in families(10**6)


# `if attr in klass.__dict__:` was dropped around the lookup and the break.
DROPPED_KEY_CHECK = '''def owner(mro, attr):
    found = None
    for klass in mro:
        found = klass.__dict__[attr]
        break
    return found
'''


def test_protective_checks_guard_a_subscript_an_attribute_and_a_type():
    texts = [g for gs in _guards(DROPPED_KEY_CHECK).values() for _, g in gs]
    assert any("if attr in klass.__dict__:\n        found = klass.__dict__[attr]\n        break" in t for t in texts)
    assert not any("if attr in klass.__dict__:\n    for" in t for t in texts)  # klass is bound by the loop
    tree = ast.parse("def walk(node, cls):\n    total = 0\n    total += node.size\n    visit(node)\n    return total\n")
    texts = [ast.unparse(owner) for _, _, owner, _ in guard_alternatives(tree, ("body", 0), tree.body[0])
             if not isinstance(owner, Doomed)]
    assert any("if node is not None:\n        total += node.size" in t for t in texts)
    assert any("if not isinstance(node, cls):\n        visit(node)" in t for t in texts)


def test_a_dropped_key_check_is_repaired_for_real(sandbox):
    class_defs = "class A:\n    pass\n\nclass B(A):\n    x = 2\n\n"
    suite = TestSuite.from_asserts([class_defs + "assert owner(B.__mro__, 'x') == 2",
                                    class_defs + "A.x = 1\nassert owner(B.__mro__, 'x') == 2",
                                    "class C:\n    y = 3\n\nassert owner((object, C), 'y') == 3"])
    result = repair(DROPPED_KEY_CHECK, suite, sandbox, RepairConfig(budget=64))
    assert result.solved, result.reason
    assert "if attr in klass.__dict__:" in result.repaired


# `if x % 2 != 0:` was dropped around the append: every item is kept, not only the odd ones.
DROPPED_PARITY = '''def odd_items(items):
    out = []
    for x in items:
        out.append(x)
    return out
'''


def test_a_parity_guard_of_the_loop_variable_is_proposed():
    texts = [g for gs in _guards(DROPPED_PARITY).values() for _, g in gs]
    assert any("if x % 2 != 0:\n        out.append(x)" in t for t in texts)
    assert any("if x % 2 == 0:\n        out.append(x)" in t for t in texts)


def test_a_dropped_parity_guard_is_repaired_for_real(sandbox):
    suite = TestSuite.from_asserts(["assert odd_items([1, 2, 3, 4, 5]) == [1, 3, 5]",
                                    "assert odd_items([2, 4]) == []", "assert odd_items([7]) == [7]"])
    result = repair(DROPPED_PARITY, suite, sandbox, RepairConfig(budget=256))
    assert result.solved, result.reason
    assert "% 2" in result.repaired


# `if num <= 1:` was dropped around the base case: `res` and `i` are unbound where a guard of
# `return 1` would test them.
DROPPED_BASE_CASE = '''def catalan(num):
    return 1
    res = 0
    for i in range(num):
        res += catalan(i) * catalan(num - i - 1)
    return res
'''


def test_guards_never_test_a_local_that_is_not_bound_yet():
    guards = _guards(DROPPED_BASE_CASE)
    body = ("body", 0, "body")
    first = [text.split("\n")[1] for weight, text in guards[(body, 0, 1)]]
    assert "    if num <= 1:" in first
    assert not any("res" in line or " i " in line for line in first), first
    raising = [text.split("\n")[1] for weight, text in _guards(DROPPED_BASE_CASE, doomed=True)[(body, 0, 2)]]
    assert "    if res <= 1:" in raising  # res is bound after the guard: marked, never run
    around_loop = [text.split("\n")[1] for weight, text in guards[(body, 2, 1)]]
    assert around_loop and not any(" i " in line for line in around_loop), around_loop  # the loop binds i
    loop_body = ("body", 0, "body", 2, "body")
    assert any("if i == 0:" in text for _, text in guards[(loop_body, 0, 1)])  # bound by the loop
