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

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from kelp.errors import KelpError
from kelp.models.naturalness import _BITS, BOS, EOS, SPECIALS, NgramLM, code_tokens, lines_of


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


def _functions(corpus: Path, limit: int | None) -> list[str]:
    path = corpus / "functions.jsonl" if corpus.is_dir() else corpus
    if not path.exists():
        raise NaturalnessTrainingError(f"no corpus at {path} (make one with `kelp train corpus`)")
    out = []
    with path.open() as fh:
        for line in fh:
            if limit is not None and len(out) >= limit:
                break
            try:
                out.append(json.loads(line)["code"])
            except (ValueError, KeyError, TypeError) as exc:
                raise NaturalnessTrainingError(f"{path}: line {len(out) + 1} is not a corpus record ({exc})") from exc
    if not out:
        raise NaturalnessTrainingError(f"{path} holds no functions")
    return out


def train_ngram(corpus: Path, out: Path, config: NgramConfig = NgramConfig(),
                progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Count an :class:`NgramLM` over the lines of the functions in ``corpus`` (a
    ``kelp train corpus`` folder or its ``functions.jsonl``) and save it to ``out``
    (safetensors). Returns the report (lines, tokens, vocabulary, table sizes, discounts), also
    stored in the model's metadata. Raises :class:`NaturalnessTrainingError` for a missing or
    empty corpus."""
    codes = _functions(Path(corpus), config.max_functions)
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
    lm = NgramLM({"uni_cont": np.zeros(len(vocab))}, vocab, (0.75, 0.75, 0.75))
    bos, eos = lm.ids[BOS], lm.ids[EOS]
    us, vs, ws = [], [], []
    for i, line in enumerate(lines):
        full = [bos, bos, *lm.encode(line), eos]
        us.extend(full[:-2])
        vs.extend(full[1:-1])
        ws.extend(full[2:])
        if progress and i % 20000 == 0:
            progress("counting", i, len(lines))
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
