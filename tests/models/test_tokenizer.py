"""The byte-level BPE tokenizer of the edit format."""

import pytest

from kelp.datasets.loaders import load_mbpp
from kelp.models.edit_format import SPECIAL_TOKENS, build_prompt, render_program
from kelp.models.tokenizer import TokenizerError, load_tokenizer, special_id, train_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer([p.code for p in load_mbpp("train")], vocab_size=800)


def test_markers_are_single_tokens_and_text_round_trips(tokenizer, tmp_path):
    prompt = build_prompt(render_program("def f(x):\n    return x + 1\n"), "Add one. ü", ["assert f(1) == 2"])
    ids = tokenizer.encode(prompt).ids
    assert ids.count(special_id(tokenizer, "<n0>")) == 1 and special_id(tokenizer, "<pad>") == 0
    assert tokenizer.decode(ids, skip_special_tokens=False) == prompt
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    again = load_tokenizer(tmp_path)
    assert again.encode(prompt).ids == ids


def test_a_tokenizer_without_the_format_tokens_is_refused(tmp_path):
    from tokenizers import Tokenizer, models
    Tokenizer(models.BPE()).save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(TokenizerError, match="special token"):
        load_tokenizer(tmp_path)
    with pytest.raises(TokenizerError, match="not found"):
        load_tokenizer(tmp_path / "missing")
    assert len(SPECIAL_TOKENS) > 512
