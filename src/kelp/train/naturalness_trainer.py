"""Count the naturalness model (:class:`kelp.models.naturalness.NgramLM`) from a code corpus.

The corpus is ``kelp train corpus``'s output: functions from installed packages and the
standard library, with anything resembling an evaluation set removed. Every line of every
function is one sentence. Counting is vectorised: each trigram is packed into one int64 and the
tables are ``numpy.unique`` over those keys. Interpolated Kneser-Ney needs, besides trigram
counts, each context's total and number of distinct followers, and the continuation counts of
the lower orders (distinct left neighbours); they are computed before trigrams seen fewer than
``min_trigram`` times are pruned, so pruning only moves those trigrams' mass to the bigram
estimate. Discounts are Ney's estimate ``n1 / (n1 + 2 n2)`` from the counts of counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kelp.errors import KelpError
from kelp.models.naturalness import _BITS, BOS, EOS, SPECIALS, NgramLM, code_tokens, lines_of, token_ids


class NaturalnessTrainingError(KelpError, ValueError):
    """No corpus, an empty one, or bad settings."""


@dataclass(frozen=True)
class NgramConfig:
    """``min_count``: occurrences for an identifier or number to enter the vocabulary (others are
    ``<id>``/``<num>``); ``max_vocab``: vocabulary size cap; ``min_trigram``: occurrences for a
    trigram to be kept; ``max_functions``: read at most that many (``None``: all)."""

    min_count: int = 5
    max_vocab: int = 20000
    min_trigram: int = 2
    max_functions: int | None = None


def _discount(counts: np.ndarray) -> float:
    n1 = int((counts == 1).sum())
    n2 = int((counts == 2).sum())
    return n1 / (n1 + 2 * n2) if n1 + n2 else 0.75


def train_ngram(corpus: Path, out: Path, config: NgramConfig = NgramConfig()) -> dict:
    """Count an :class:`NgramLM` over the lines of the functions in ``corpus`` (a
    ``kelp train corpus`` folder or its ``functions.jsonl``) and save it to ``out``
    (safetensors). Returns the report (lines, tokens, vocabulary, table sizes, discounts), also
    stored in the model's metadata. Raises :class:`NaturalnessTrainingError` for a missing or
    empty corpus."""
    from kelp.train.corpus import CorpusError, load_corpus

    try:
        codes = [f.code for f in load_corpus(Path(corpus))][: config.max_functions]
    except CorpusError as exc:
        raise NaturalnessTrainingError(f"no corpus to count: {exc}") from None
    if not codes:
        raise NaturalnessTrainingError(f"{corpus} holds no functions")
    lines = [line for code in codes for line in lines_of(code)]
    tokens = [code_tokens(line) for line in lines]
    counts = Counter(tok for seq in tokens for kind, tok in seq if kind != "str")
    kinds = {}
    for seq in tokens:
        for kind, tok in seq:
            kinds.setdefault(tok, kind)
    kept = [tok for tok, n in counts.most_common() if n >= config.min_count or kinds.get(tok) == "op"]
    vocab = list(SPECIALS) + [tok for tok in kept if tok not in SPECIALS][: config.max_vocab - len(SPECIALS)]
    if len(vocab) >= 1 << _BITS:
        raise NaturalnessTrainingError(f"max_vocab must be under {1 << _BITS}")
    ids = {tok: i for i, tok in enumerate(vocab)}
    bos, eos = ids[BOS], ids[EOS]
    us, vs, ws = [], [], []
    for seq in tokens:
        full = [bos, bos, *token_ids(seq, ids), eos]
        us.extend(full[:-2])
        vs.extend(full[1:-1])
        ws.extend(full[2:])
    u, v, w = (np.asarray(x, dtype=np.int64) for x in (us, vs, ws))
    b = _BITS
    tri_keys, tri_count = np.unique((u << 2 * b) | (v << b) | w, return_counts=True)
    ctx2_all = tri_keys >> b
    ctx2_keys, first, ctx2_types = np.unique(ctx2_all, return_index=True, return_counts=True)
    ctx2_total = np.add.reduceat(tri_count, first)
    bi_keys, bi_cont = np.unique(tri_keys & ((1 << 2 * b) - 1), return_counts=True)
    ctx1_keys, first1, ctx1_types = np.unique(bi_keys >> b, return_index=True, return_counts=True)
    ctx1_cont = np.add.reduceat(bi_cont, first1)
    uni_cont = np.bincount(bi_keys & ((1 << b) - 1), minlength=len(vocab))
    discounts = (_discount(uni_cont), _discount(bi_cont), _discount(tri_count))
    keep = tri_count >= config.min_trigram
    arrays = {
        "tri_keys": tri_keys[keep], "tri_count": tri_count[keep].astype(np.int32),
        "ctx2_keys": ctx2_keys, "ctx2_total": ctx2_total.astype(np.int32), "ctx2_types": ctx2_types.astype(np.int32),
        "bi_keys": bi_keys, "bi_cont": bi_cont.astype(np.int32),
        "ctx1_keys": ctx1_keys, "ctx1_cont": ctx1_cont.astype(np.int32), "ctx1_types": ctx1_types.astype(np.int32),
        "uni_cont": uni_cont.astype(np.int32),
    }
    report = {"functions": len(codes), "lines": len(lines), "tokens": int(len(w)), "vocab": len(vocab),
              "trigrams": int(keep.sum()), "trigrams_seen": int(len(tri_keys)), "contexts": int(len(ctx2_keys)),
              "bigrams": int(len(bi_keys)), "discounts": [round(d, 4) for d in discounts], "config": asdict(config)}
    NgramLM(arrays, vocab, discounts, report).save(out)
    return report
