"""The naturalness model: its tokens, a real count over a small corpus of MBPP train functions,
a distribution that sums to one, a safetensors round trip, and clear errors."""

import subprocess
import sys

import pytest

from kelp.models.naturalness import NaturalnessError, NgramLM, code_tokens, lines_of
from kelp.train.naturalness_trainer import NaturalnessTrainingError, NgramConfig, train_ngram


def test_tokens_keep_operators_whole_and_drop_comments():
    assert [t for _k, t in code_tokens("if x >= lo and y != 'a b':  # note")] == \
        ["if", "x", ">=", "lo", "and", "y", "!=", "'a b'", ":"]
    assert [k for k, _t in code_tokens('s = """two\nlines""" + 1.5e3')] == ["name", "op", "str", "op", "num"]
    assert lines_of('def f():\n    """doc\n    more"""\n\n    return 1\n') == ['def f():', '"""doc\n    more"""',
                                                                             'return 1']


@pytest.fixture(scope="module")
def model(mbpp_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("ngram") / "ngram.safetensors"
    report = train_ngram(mbpp_corpus(300), out, NgramConfig(min_count=2))
    return NgramLM.load(out), report


def test_the_model_is_a_distribution_over_its_vocabulary(model):
    lm, report = model
    assert report["functions"] == 300 and report["tokens"] > 10000 and 0 < report["discounts"][2] < 1
    ids = [lm.ids["for"], lm.ids["i"]]
    total = sum(2 ** lp[2] for lp in lm.log2probs([[*ids, w] for w in range(len(lm.vocab))]))
    assert total == pytest.approx(1.0, abs=1e-6)
    assert lm.entropy("for i in range(len(arr)):") < lm.entropy("for in i range(len(arr)):")


def test_unknown_names_and_numbers_have_their_own_tokens(model):
    lm, _ = model
    assert lm.encode("zzz_never_seen = 98765") == [lm.ids["<id>"], lm.ids["="], lm.ids["<num>"]]


def test_a_missing_corpus_or_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(NaturalnessTrainingError, match="no corpus"):
        train_ngram(tmp_path / "nothing", tmp_path / "m.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a model")
    with pytest.raises(NaturalnessError, match="cannot read"):
        NgramLM.load(tmp_path / "bad.safetensors")
    proc = subprocess.run([sys.executable, "-m", "kelp.cli", "train", "naturalness", "--corpus", str(tmp_path / "no"),
                           "--out", str(tmp_path / "m.safetensors")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == "" and "no corpus" in proc.stderr
