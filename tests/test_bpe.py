"""The one BPE builder (kelp.bpe.train_bpe): byte-level, special tokens first, lossless."""

import subprocess
import sys

from kelp.bpe import train_bpe

TEXTS = ["def add(a, b):\n    return a + b\n", "x = [i * i for i in range(10)]\n", "print('héllo wörld')\n"] * 3


def test_special_tokens_come_first_and_text_round_trips():
    tok = train_bpe(TEXTS, 300, special_tokens=("<pad>", "<x>"))
    assert [tok.token_to_id(t) for t in ("<pad>", "<x>")] == [0, 1]
    text = "def sub(a, b):\n    return a - b  # ünïcode ✓\n"
    assert tok.decode(tok.encode(text).ids) == text
    assert tok.get_vocab_size() <= 300


def test_same_texts_give_the_same_tokenizer_and_min_frequency_limits_merges():
    assert train_bpe(iter(TEXTS), 320).to_str() == train_bpe(list(TEXTS), 320).to_str()
    rare = train_bpe(["abcd"], 300, min_frequency=2)
    assert rare.get_vocab_size() == 256  # no pair occurs twice: the byte alphabet only
    assert train_bpe(["abcd"], 300).get_vocab_size() > 256


def test_unk_token_is_recorded_in_the_model():
    tok = train_bpe(TEXTS, 300, special_tokens=("[PAD]", "[UNK]"), unk_token="[UNK]")
    assert '"unk_token":"[UNK]"' in tok.to_str().replace(" ", "")


def test_importing_the_module_does_not_import_tokenizers():
    code = "import sys, kelp.bpe; print('tokenizers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
