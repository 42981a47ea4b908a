"""The excess-logic families of the forward process (training data): each plants code that
should not be there, and the repair search proposes the deletion that takes it out."""

import pytest

from kelp.corrupt import EXCESS_FAMILIES, corrupt, mutate
from kelp.program import parse, unparse
from kelp.repair.enumerate import EnumerativeProposer
from kelp.repair.proposer import Feedback

PAIRS = '''def count_pairs(arr, n, total):
    count = 0
    for i in range(n):
        for j in range(i + 1, n):
            if arr[i] + arr[j] == total:
                count += 1
    return count
'''

WORDS = '''def unique_words(text):
    seen = []
    for w in text.split():
        if w not in seen:
            seen.append(w)
    return seen
'''


def test_each_family_plants_its_shape():
    import random

    shapes = {
        "add_conjunct": lambda old, new: "and" in new and new.count("and") == old.count("and") + 1,
        "add_guard": lambda old, new: new.count("if ") == old.count("if ") + 1,
        "add_statement": lambda old, new: len(new.splitlines()) == len(old.splitlines()) + 1,
        "add_call": lambda old, new: any(f"{f}(" in new for f in ("sorted", "list", "set", "abs", "int"))
        or ".lower()" in new or ".strip()" in new,
    }
    for family in EXCESS_FAMILIES:
        for program in (PAIRS, WORDS):
            result = mutate(parse(program), family, random.Random(0))
            assert result is not None, family
            new = unparse(result[0])
            assert shapes[family](program, new), (family, new)
            assert result[1].family == family


@pytest.mark.parametrize("program", [PAIRS, WORDS])
def test_the_excess_policy_plants_only_excess_and_the_search_can_take_it_out(program):
    tree_lines = {i: 1.0 for i in range(1, 12)}
    families = set()
    for seed in range(12):
        bug = corrupt(program, steps=1, seed=seed, policy="excess")
        families |= {m.family for m in bug.mutations}
        tree = parse(bug.source)
        fixes = {unparse(c.edit.apply(tree)) for c in EnumerativeProposer(focus_min_lines=None).propose(
            tree, Feedback(lines=tree_lines))}
        assert bug.original in fixes, (seed, bug.source)
    assert families <= set(EXCESS_FAMILIES) and len(families) >= 3
