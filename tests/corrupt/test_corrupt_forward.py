import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kelp
from kelp.corrupt import FAMILIES, Corruption, CorruptionError, SubtreeBank, corrupt
from kelp.program import ProgramSyntaxError, apply_edits, find_function, normalise, parse, tree_diff, unparse

MBPP = Path(kelp.__file__).parent / "data" / "mbpp" / "mbpp.jsonl"

PROG = '''import math

class Helper:
    def scale(self, v):
        return v * 2

def target(xs, k):
    total = 0
    for i in range(len(xs)):
        if xs[i] > k and i % 2 == 0:
            total += xs[i] - k
    return total
'''


@lru_cache(maxsize=1)
def codes() -> tuple[str, ...]:
    with MBPP.open(encoding="utf-8") as fh:
        return tuple(json.loads(line)["code"] for line in fh if line.strip())


@lru_cache(maxsize=1)
def bank() -> SubtreeBank:
    return SubtreeBank.from_sources(codes()[:150])


def _valid(c: Corruption, steps: int) -> None:
    assert len(c.mutations) == steps
    compile(c.source, "<c>", "exec")
    assert c.source == normalise(c.source)
    assert c.source != c.original
    for a, b in ((c.source, c.original), (c.original, c.source)):
        assert unparse(apply_edits(parse(a), tree_diff(a, b))) == b


def test_steps_and_determinism():
    for steps in (1, 2, 3):
        c1 = corrupt(PROG, steps=steps, seed=7)
        c2 = corrupt(PROG, steps=steps, seed=7)
        assert c1 == c2
        _valid(c1, steps)
        assert c1.original == normalise(PROG) and c1.seed == 7
        assert all(m.family in FAMILIES for m in c1.mutations)
    assert len({corrupt(PROG, steps=2, seed=s).source for s in range(10)}) > 5


def test_distinct_sites():
    for seed in range(20):
        paths = [m.path for m in corrupt(PROG, steps=3, seed=seed).mutations]
        assert len(set(paths)) == 3


def test_target_restricts_mutations():
    body = find_function(parse(PROG), "target").path + ("body",)
    helper = normalise("class Helper:\n    def scale(self, v):\n        return v * 2\n")
    for seed in range(25):
        c = corrupt(PROG, steps=2, seed=seed, target="target")
        assert all(m.path[: len(body)] == body for m in c.mutations)
        assert helper in c.source and c.source.startswith("import math\n")
    c = corrupt(PROG, seed=3, target="Helper.scale")
    assert c.mutations[0].path[:4] == ("body", 1, "body", 0)
    with pytest.raises(CorruptionError, match="no function named 'nope'"):
        corrupt(PROG, target="nope")


def test_nothing_applies_raises():
    for src in ("def f():\n    pass\n", "def f(xs):\n    return min(xs)\n", ""):
        with pytest.raises(CorruptionError, match="no realistic mutation applies"):
            corrupt(src)


def test_strict_false_stops_early():
    src = "def f(a, b):\n    return a\n"  # a -> b, then nothing new
    with pytest.raises(CorruptionError, match="step 2 of 3"):
        corrupt(src, steps=3)
    c = corrupt(src, steps=3, strict=False)
    assert len(c.mutations) >= 1


def test_argument_errors():
    with pytest.raises(CorruptionError, match="unknown policy"):
        corrupt(PROG, policy="chaos")
    with pytest.raises(CorruptionError, match="needs a SubtreeBank"):
        corrupt(PROG, policy="bank")
    with pytest.raises(CorruptionError, match="positive integer"):
        corrupt(PROG, steps=0)
    with pytest.raises(ProgramSyntaxError):
        corrupt("def f(:\n")


def test_bank_and_mixed_policies():
    families = set()
    for seed in range(20):
        c = corrupt(PROG, steps=2, seed=seed, policy="bank", bank=bank())
        _valid(c, 2)
        assert {m.family for m in c.mutations} == {"bank_swap"}
        m = corrupt(PROG, steps=3, seed=seed, policy="mixed", bank=bank())
        _valid(m, 3)
        families |= {x.family for x in m.mutations}
    assert "bank_swap" in families and len(families) > 3


def test_json_round_trip():
    c = corrupt(PROG, steps=3, seed=1)
    assert Corruption.from_json(json.loads(json.dumps(c.to_json()))) == c


_SCRIPT = (
    "import json,sys; from kelp.corrupt import corrupt;"
    "src=sys.stdin.read();"
    "print(json.dumps([corrupt(src, steps=s, seed=s * 11).to_json() for s in (1, 2, 3)]))"
)


def test_same_result_across_processes():
    env = dict(os.environ, PYTHONPATH=str(Path(kelp.__file__).parents[1]))
    outs = []
    for hash_seed in ("1", "2"):
        env["PYTHONHASHSEED"] = hash_seed
        proc = subprocess.run([sys.executable, "-c", _SCRIPT], input=PROG, capture_output=True, text=True,
                              env=env, check=True, timeout=60)
        outs.append(json.loads(proc.stdout))
    here = [corrupt(PROG, steps=s, seed=s * 11).to_json() for s in (1, 2, 3)]
    assert outs[0] == outs[1] == json.loads(json.dumps(here))


def test_mbpp_all_programs_steps_1_to_3():
    """Every MBPP solution: corrupt, check validity, check the tree_diff reverse path.

    A few one-line solutions (``return min(xs)``) offer no realistic site at all; they must
    fail with CorruptionError, never with anything else, and stay rare."""
    failures = attempts = 0
    data = codes()
    for i, code in enumerate(data):
        for steps in ((1, 2, 3) if i % 4 == 0 else (1,)):
            attempts += 1
            try:
                c = corrupt(code, steps=steps, seed=i)
            except CorruptionError:
                failures += 1
                continue
            _valid(c, steps)
    assert failures <= 0.05 * attempts


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(codes()), st.integers(0, 2**32), st.integers(1, 3),
       st.sampled_from(["realistic", "bank", "mixed"]))
def test_mbpp_property(code, seed, steps, policy):
    try:
        c = corrupt(code, steps=steps, seed=seed, policy=policy, bank=bank())
    except CorruptionError:
        return
    _valid(c, steps)
    assert c == corrupt(code, steps=steps, seed=seed, policy=policy, bank=bank())


def test_the_calls_policy_plants_only_misused_calls():
    from kelp.corrupt import CALL_FAMILIES

    source = "def f(xs, s):\n    xs = sorted(xs)\n    return abs(len(xs) - len(s.lower()))\n"
    families = {m.family for seed in range(30) for m in corrupt(source, steps=1, seed=seed, policy="calls").mutations}
    assert families == set(CALL_FAMILIES)
    with pytest.raises(CorruptionError):
        corrupt("def f(a, b):\n    return a + b\n", steps=1, seed=0, policy="calls")
