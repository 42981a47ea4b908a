"""The edit model's corpus: extraction, filtering, deduplication and decontamination."""

import json
from collections import Counter

import pytest

from kelp.train.corpus import (ContaminationIndex, CorpusConfig, CorpusError, benchmark_index, build_corpus,
                               extract_functions, load_corpus, normalised_hash)

MODULE = '''
import os

def short(x):
    return x

def area(w, h):
    """Area of a rectangle."""
    result = w * h
    return result

class Box:
    def volume(self, depth):
        total = self.w * self.h
        total = total * depth
        return total

    def todo(self):
        """Not yet."""
        raise NotImplementedError

async def fetch(url):
    data = await get(url)
    data = data.strip()
    return data
'''


def test_functions_and_methods_are_extracted_with_their_origin():
    dropped = Counter()
    found = extract_functions(MODULE, "pkg-1.0:mod.py", CorpusConfig(), dropped)
    assert [f.name for f in found] == ["area", "volume"]
    assert found[0].origin == "pkg-1.0:mod.py:7" and found[0].docstring == "Area of a rectangle."
    assert dropped == Counter({"too_short": 1, "trivial": 1, "async": 1})


def test_the_normalised_hash_ignores_names_docstrings_and_annotations():
    a = "def f(x: int) -> int:\n    'doc'\n    y = x + 1\n    return len([y])\n"
    b = "def g(n):\n    m = n + 1\n    return len([m])\n"
    c = "def g(n):\n    m = n - 1\n    return len([m])\n"
    assert normalised_hash(a) == normalised_hash(b) != normalised_hash(c)


def test_benchmark_functions_are_removed_and_reported(tmp_path):
    src = tmp_path / "lib"
    src.mkdir()
    # a renamed copy of QuixBugs gcd, an MBPP signature, and a function of our own
    (src / "m.py").write_text(
        "def greatest(p, q):\n    if q == 0:\n        return p\n    else:\n        return greatest(q, p % q)\n\n"
        "def remove_Occ(s, ch):\n    out = s.replace(ch, '')\n    return out\n\n"
        "def keep_me(values):\n    total = 0\n    for v in values:\n        total += v * v\n    return total\n\n"
        "def keep_me_too(items):\n    total = 0\n    for v in items:\n        total += v * v\n    return total\n")
    (src / "bad.py").write_text("def broken(:\n")
    index = benchmark_index()
    report = build_corpus(tmp_path / "out", index=index, roots=[("lib-0", src)])
    kept = load_corpus(tmp_path / "out")
    assert [f.name for f in kept] == ["keep_me"]
    assert report.kept == 1 and report.unreadable_files == 1 and report.dropped["duplicate"] == 1
    reasons = {r["name"]: (r["reason"], r["matched"].split(":")[0]) for r in report.removed}
    assert reasons["remove_Occ"] == ("contaminated_signature", "mbpp")
    assert reasons["greatest"] == ("contaminated_ast", "quixbugs")
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["kept"] == 1 and saved["removed"]


def test_an_empty_source_tree_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="no Python source"):
        build_corpus(tmp_path / "out", index=ContaminationIndex(), roots=[("none", tmp_path / "missing")])
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "nowhere")


def test_protocol_methods_are_not_matched_by_signature_alone():
    index = ContaminationIndex()
    index.add("class A:\n    def __lt__(self, other):\n        return self.v < other.v\n", "mbpp:1")
    [mine] = extract_functions("class B:\n    def __lt__(self, other):\n        key = self.key()\n"
                               "        return key < other.key()\n", "x")
    assert index.match(mine) is None
