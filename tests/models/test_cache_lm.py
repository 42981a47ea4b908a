"""The cache language model of one program (Tu et al. 2014): its own names are natural to it."""

import numpy as np
import pytest

from kelp.models.naturalness import CacheLM, raw_tokens

PROGRAM = """def in_range(x, lo, hi):
    if x >= lo and x <= hi:
        return True
    total = lo + hi
    return False"""


def test_raw_tokens_keep_local_names_and_fold_strings():
    assert raw_tokens("span = hi - lo  # width") == ["span", "=", "hi", "-", "lo"]
    assert raw_tokens("name = 'x' + \"y\"") == ["name", "=", "<str>", "+", "<str>"]


def test_a_name_of_the_program_is_likelier_than_one_it_never_uses():
    cache = CacheLM(PROGRAM.split("\n"))
    own = cache.log2probs(raw_tokens("return lo"))
    foreign = cache.log2probs(raw_tokens("return mid"))
    assert own.shape == (3,) and np.all(own <= 0)
    assert own[1] > foreign[1] + 3  # `lo` after `return`: many bits likelier than an unseen name


def test_the_scored_line_is_left_out_of_its_own_cache():
    lines = PROGRAM.split("\n")
    cache = CacheLM(lines)
    line = raw_tokens(lines[3])  # `total = lo + hi`: `total` appears nowhere else
    with_itself = cache.log2probs(line)
    without = cache.log2probs(line, exclude=4)
    assert without[0] < with_itself[0] - 3
    assert np.allclose(without, CacheLM(lines[:3] + lines[4:]).log2probs(line))


@pytest.mark.parametrize("context", ["return", "x", "<s>"])
def test_the_next_token_distribution_sums_to_at_most_one(context):
    cache = CacheLM(PROGRAM.split("\n"), unseen=50)
    seen = set(cache.uni) | {"never", "seen"}
    prefix = [] if context == "<s>" else [context]
    mass = sum(2.0 ** cache.log2probs(prefix + [tok])[len(prefix)] for tok in seen)
    assert 0.2 < mass <= 1.0 + 1e-9
