import ast
import json
import random

import pytest

from kelp.corrupt import BankError, SubtreeBank
from kelp.program import iter_nodes, parse_expr, parse_stmt

SOURCES = [
    "def f(a, b):\n    '''doc'''\n    if a < b:\n        return a + b\n    return a < b\n",
    "def g(x):\n    y = x * 2\n    return y if y else x[1:]\n",
    "def broken(:\n",
    "def h(a, b):\n    return a + b\n",
]


def test_from_sources_types_dedupe_and_skips():
    bank = SubtreeBank.from_sources(SOURCES)
    assert bank.fragments("Compare") == ["a < b"]  # deduplicated
    assert bank.fragments("BinOp") == ["a + b", "x * 2"]
    assert "Return" in bank.types() and "If" in bank.types()
    assert not bank.has_type("FunctionDef") and not bank.has_type("Slice")
    everything = [f for t in bank.types() for f in bank.fragments(t)]
    assert "doc" not in " ".join(everything)  # docstrings skipped
    assert len(bank) == len(everything)
    assert SubtreeBank.from_sources(SOURCES) == bank  # deterministic


def test_limits():
    bank = SubtreeBank.from_sources(SOURCES, max_nodes=3)
    for t in bank.types():
        for frag in bank.fragments(t):
            node = parse_stmt(frag) if issubclass(getattr(ast, t), ast.stmt) else parse_expr(frag)
            assert len(list(iter_nodes(node))) <= 3
    capped = SubtreeBank.from_sources(SOURCES, max_per_type=1)
    assert all(len(capped.fragments(t)) == 1 for t in capped.types())
    with pytest.raises(BankError):
        SubtreeBank.from_sources(SOURCES, max_nodes=0)


def test_sample():
    bank = SubtreeBank.from_sources(SOURCES)
    rng = random.Random(0)
    assert bank.sample("Compare", rng, exclude="a < b") is None
    assert bank.sample("Nope", rng) is None
    picks = {bank.sample("BinOp", random.Random(s), exclude="a + b") for s in range(20)}
    assert picks == {"x * 2"}
    a = [bank.sample("Name", random.Random(5)) for _ in range(3)]
    assert a == [bank.sample("Name", random.Random(5)) for _ in range(3)]


def test_json_round_trip(tmp_path):
    bank = SubtreeBank.from_sources(SOURCES)
    assert SubtreeBank.from_json(json.loads(json.dumps(bank.to_json()))) == bank
    path = tmp_path / "bank.json"
    bank.save(path)
    assert SubtreeBank.load(path) == bank
    assert json.loads(path.read_text())["format"] == "kelp.subtree_bank"


def test_bad_documents():
    with pytest.raises(BankError, match="not a SubtreeBank"):
        SubtreeBank.from_json({"fragments": {}})
    with pytest.raises(BankError, match="version"):
        SubtreeBank.from_json({"format": "kelp.subtree_bank", "version": 99, "fragments": {}})
    with pytest.raises(BankError, match="must map"):
        SubtreeBank.from_json({"format": "kelp.subtree_bank", "version": 1, "fragments": {"Name": [1]}})


def test_load_errors(tmp_path):
    with pytest.raises(BankError, match="cannot read"):
        SubtreeBank.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(BankError, match="not valid JSON"):
        SubtreeBank.load(bad)
