"""The naturalness of code: a token trigram language model of Python lines, with interpolated
Kneser-Ney smoothing, that says how surprising a line is (its cross-entropy, in bits per token).

Ray et al. 2016 ("On the 'naturalness' of buggy code") found that buggy lines are less natural
(higher entropy under an n-gram model of the project) than other lines, and become more natural
when they are fixed; Hindle et al. 2012 ("On the naturalness of software") introduced the n-gram
view of code. The repair search uses this model for one family of ranker features: how the
entropy of the patched line changes (:mod:`kelp.repair.ranking`). Smoothing: Chen & Goodman 1999
(interpolated Kneser-Ney, an absolute discount for trigrams and bigrams; the unigram continuation
counts get add-one, so a token never seen still has some probability).

Tokens are lexical (:func:`code_tokens`): identifiers and numbers outside the model's vocabulary
become ``<id>`` and ``<num>``, every string literal is ``<str>``, comments are dropped. A line
is scored with two ``<s>`` before it and ``</s>`` after.

The model is stored as safetensors (sorted packed n-gram keys and their counts, numpy arrays)
with its vocabulary in the file's metadata, and scored with vectorised look-ups
(``numpy.searchsorted``), so loading it takes milliseconds and needs no torch.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from kelp.errors import KelpError

#: The model bundled with kelp (``kelp train naturalness``'s output).
DEFAULT_NGRAM = Path(__file__).resolve().parent / "checkpoints" / "naturalness" / "ngram.safetensors"

BOS, EOS, ID, NUM, STR, UNK = "<s>", "</s>", "<id>", "<num>", "<str>", "<unk>"
SPECIALS = (BOS, EOS, ID, NUM, STR, UNK)
_BITS = 20  # bits per token id in a packed n-gram key; vocabularies stay under 2**20

_LEX = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<str>[rRbBuUfF]{0,2}(?:'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
  | (?P<num>(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?[jJ]?|0[xXoObB][\da-fA-F_]+)
  | (?P<name>[^\W\d]\w*)
  | (?P<op>\*\*=|//=|>>=|<<=|->|:=|==|!=|<=|>=|\*\*|//|<<|>>|[-+*/%&|^@]=|[^\w\s])
""", re.VERBOSE)


class NaturalnessError(KelpError, ValueError):
    """A naturalness model file that is missing, unreadable or not such a model."""


def code_tokens(text: str) -> list[tuple[str, str]]:
    """The lexical tokens of ``text`` (any fragment of Python, not necessarily parseable) as
    ``(kind, text)`` pairs, kind one of ``str``, ``num``, ``name``, ``op``; comments dropped."""
    out = []
    for match in _LEX.finditer(text):
        kind = match.lastgroup
        if kind != "comment":
            out.append((kind, match.group()))
    return out


def token_ids(tokens: list[tuple[str, str]], ids: dict[str, int]) -> list[int]:
    """The ids of :func:`code_tokens` output under the vocabulary ``ids`` (token -> id): every
    string literal is ``<str>``; a name, number or mark outside it is ``<id>``, ``<num>`` or
    ``<unk>``."""
    out = []
    for kind, tok in tokens:
        if kind == "str":
            out.append(ids[STR])
        elif tok in ids:
            out.append(ids[tok])
        else:
            out.append(ids[NUM] if kind == "num" else ids[ID] if kind == "name" else ids[UNK])
    return out


def lines_of(text: str) -> list[str]:
    """The non-blank lines of ``text`` as scored units: a multi-line string literal is kept in
    the line where it starts."""
    out, buf = [], []
    depth = 0
    for line in text.split("\n"):
        buf.append(line)
        depth += sum(line.count(q) for q in ('"""', "'''")) % 2
        if depth % 2 == 0:
            joined = "\n".join(buf).strip()
            if joined:
                out.append(joined)
            buf, depth = [], 0
    if buf and "\n".join(buf).strip():
        out.append("\n".join(buf).strip())
    return out


def _pack(*ids: np.ndarray) -> np.ndarray:
    key = np.zeros(len(ids[0]), dtype=np.int64)
    for part in ids:
        key = (key << _BITS) | part.astype(np.int64)
    return key


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``values`` of ``query`` keys in the sorted ``keys`` (0 where absent)."""
    if len(keys) == 0:
        return np.zeros(len(query), dtype=np.float64)
    at = np.searchsorted(keys, query)
    at = np.minimum(at, len(keys) - 1)
    return np.where(keys[at] == query, values[at], 0).astype(np.float64)


class NgramLM:
    """An interpolated Kneser-Ney trigram model over :func:`code_tokens` (Chen & Goodman 1999).

    ``arrays``: the count tables (``tri_keys``/``tri_count``: trigram counts, pruned;
    ``ctx2_keys``/``ctx2_total``/``ctx2_types``: count and distinct followers of each two-token
    context; ``bi_keys``/``bi_cont``: distinct left neighbours of each bigram;
    ``ctx1_cont``/``ctx1_types``: per token, the bigram continuation mass and its distinct
    followers; ``uni_cont``: per token, distinct left neighbours), ``vocab``: token texts by id
    (the first are :data:`SPECIALS`), ``discounts``: ``(D1, D2, D3)``."""

    def __init__(self, arrays: dict, vocab: list[str], discounts: tuple[float, float, float], meta: dict | None = None):
        self.a = arrays
        self.vocab = list(vocab)
        self.ids = {tok: i for i, tok in enumerate(self.vocab)}
        self.discounts = tuple(float(d) for d in discounts)
        self.meta = dict(meta or {})
        cont = arrays["uni_cont"].astype(np.float64)
        self._uni = (cont + 1.0) / (cont.sum() + len(self.vocab))  # add-one: unseen tokens keep mass

    def encode(self, text: str) -> list[int]:
        """Token ids of one line of code (no ``<s>``/``</s>``)."""
        return token_ids(code_tokens(text), self.ids)

    # ---- scoring
    def log2probs(self, sequences: list[list[int]]) -> list[np.ndarray]:
        """Per-token log2 probabilities of each id sequence (a line's tokens; ``</s>`` is
        added and scored, ``<s> <s>`` is the context of the first token); one array of
        ``len(seq) + 1`` values per sequence, all looked up in one vectorised pass."""
        if not sequences:
            return []
        bos, eos = self.ids[BOS], self.ids[EOS]
        us, vs, ws, bounds = [], [], [], [0]
        for seq in sequences:
            full = [bos, bos, *seq, eos]
            us.extend(full[:-2])
            vs.extend(full[1:-1])
            ws.extend(full[2:])
            bounds.append(len(ws))
        u, v, w = (np.asarray(x, dtype=np.int64) for x in (us, vs, ws))
        a = self.a
        _d1, d2, d3 = self.discounts  # unigrams: add-one continuation counts, not discounted
        p1 = self._uni[w]
        c1 = _lookup(a["ctx1_keys"], a["ctx1_cont"], v)
        t1 = _lookup(a["ctx1_keys"], a["ctx1_types"], v)
        bc = _lookup(a["bi_keys"], a["bi_cont"], _pack(v, w))
        safe1 = np.maximum(c1, 1.0)
        p2 = np.where(c1 > 0, np.maximum(bc - d2, 0.0) / safe1 + d2 * t1 / safe1 * p1, p1)
        key2 = _pack(u, v)
        c2 = _lookup(a["ctx2_keys"], a["ctx2_total"], key2)
        t2 = _lookup(a["ctx2_keys"], a["ctx2_types"], key2)
        tc = _lookup(a["tri_keys"], a["tri_count"], _pack(u, v, w))
        safe2 = np.maximum(c2, 1.0)
        p3 = np.where(c2 > 0, np.maximum(tc - d3, 0.0) / safe2 + d3 * t2 / safe2 * p2, p2)
        logp = np.log2(np.clip(p3, 1e-12, 1.0))
        return [logp[bounds[i]:bounds[i + 1]] for i in range(len(sequences))]

    def entropy(self, text: str) -> float:
        """Cross-entropy of one line of code, in bits per token (``</s>`` included)."""
        return float(-self.log2probs([self.encode(text)])[0].mean())

    # ---- files
    def save(self, path: Path | str) -> None:
        """Write the model as safetensors (arrays) with JSON metadata (vocabulary, discounts)."""
        from safetensors.numpy import save_file

        meta = {"format": "kelp-ngram/1", "vocab": json.dumps(self.vocab), "discounts": json.dumps(self.discounts),
                "meta": json.dumps(self.meta)}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_file({k: np.ascontiguousarray(v) for k, v in self.a.items()}, str(path), metadata=meta)

    @classmethod
    def load(cls, path: Path | str) -> "NgramLM":
        """The model saved at ``path``; raises :class:`NaturalnessError` when it cannot be read."""
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                if meta.get("format") != "kelp-ngram/1":
                    raise NaturalnessError(f"{path} is not a kelp n-gram model")
                arrays = {k: f.get_tensor(k) for k in f.keys()}
            return cls(arrays, json.loads(meta["vocab"]), tuple(json.loads(meta["discounts"])),
                       json.loads(meta.get("meta", "{}")))
        except NaturalnessError:
            raise
        except (OSError, ValueError, KeyError, SafetensorError) as exc:
            raise NaturalnessError(f"cannot read n-gram model {path}: {exc}") from exc


def raw_tokens(text: str) -> list[str]:
    """The token texts of :func:`code_tokens` as a cache model keys them: every string literal is
    ``<str>``, every other token its own text (no vocabulary: local names stay distinct)."""
    return [STR if kind == "str" else tok for kind, tok in code_tokens(text)]


class CacheLM:
    """A cache language model of one program: a Witten-Bell smoothed bigram model of the
    program's own tokens (:func:`raw_tokens`, one sequence per line with ``<s>`` before and
    ``</s>`` after), which sees local names that a corpus model maps to ``<id>``.

    Tu, Su & Devanbu 2014 ("On the localness of software") found that code repeats itself
    locally, and that a cache of the file's own n-grams cuts the entropy of a corpus n-gram model
    substantially. Here the cache is a separate model, so the repair's ranker can weigh the two.
    Smoothing: Witten & Bell 1991, backing off to a unigram whose unseen mass is spread over
    ``unseen`` nominal token types.

    ``lines``: the program's lines (index 0 is line 1); a line may be left out of the counts
    when it is the one being scored (:meth:`log2probs`' ``exclude``)."""

    def __init__(self, lines: list[str], unseen: int = 10_000):
        self.unseen = unseen
        self.lines = [[BOS, *raw_tokens(line), EOS] for line in lines]
        self.uni: Counter = Counter()
        self.bi: Counter = Counter()
        for seq in self.lines:
            self.uni.update(seq[1:])
            self.bi.update(zip(seq, seq[1:]))
        self.context: Counter = Counter()  # per token, how often it is a bigram's context
        self.followers: Counter = Counter()  # per token, its distinct followers
        for (v, _w), n in self.bi.items():
            self.context[v] += n
            self.followers[v] += 1
        self._dropped: dict = {}
        self._scored: dict = {}

    def log2probs(self, tokens: list[str], exclude: int | None = None) -> np.ndarray:
        """Per-token log2 probabilities of one line's ``tokens`` (``</s>`` added and scored,
        ``<s>`` the context of the first), counted without line ``exclude`` (1-based) if given;
        an array of ``len(tokens) + 1`` values (memoised: the same line is often scored for many
        edits)."""
        key = (tuple(tokens), exclude)
        if key not in self._scored:
            self._scored[key] = self._score(tokens, exclude)
        return self._scored[key]

    def _score(self, tokens: list[str], exclude: int | None) -> np.ndarray:
        uni, bi, context, followers = self.uni, self.bi, self.context, self.followers
        drop_uni, drop_bi, drop_context, drop_followers, total, types = self._without(exclude)
        full = [BOS, *tokens, EOS]
        unseen = types / (total + types) / self.unseen if total > 0 else 1.0 / self.unseen
        seen = 1.0 / (total + types) if total > 0 else 0.0
        probs = []
        for v, w in zip(full, full[1:]):
            p = (uni[w] - drop_uni[w]) * seen + unseen  # the unigram level
            seen_v = context[v] - drop_context[v]
            if seen_v > 0:  # Witten-Bell: the bigram count plus the unigram weighted by v's follower types
                t_v = followers[v] - drop_followers[v]
                p = (bi[(v, w)] - drop_bi[(v, w)] + t_v * p) / (seen_v + t_v)
            probs.append(p)
        return np.log2(np.maximum(np.asarray(probs), 1e-12))

    def _without(self, exclude: int | None) -> tuple:
        """The counts line ``exclude`` adds (unigrams, bigrams, per context its count and the
        followers it alone gives) and the token total and type count without it (memoised)."""
        if exclude in self._dropped:
            return self._dropped[exclude]
        drop_uni: Counter = Counter()
        drop_bi: Counter = Counter()
        if exclude is not None and 1 <= exclude <= len(self.lines):
            seq = self.lines[exclude - 1]
            drop_uni.update(seq[1:])
            drop_bi.update(zip(seq, seq[1:]))
        drop_context: Counter = Counter()
        drop_followers: Counter = Counter()
        for (v, w), n in drop_bi.items():
            drop_context[v] += n
            drop_followers[v] += int(self.bi[(v, w)] == n)
        total = sum(self.uni.values()) - sum(drop_uni.values())
        types = sum(1 for tok, n in self.uni.items() if n > drop_uni[tok])
        self._dropped[exclude] = result = (drop_uni, drop_bi, drop_context, drop_followers, total, types)
        return result


@lru_cache(maxsize=4)
def load_ngram(path: str | None = None) -> NgramLM | None:
    """The n-gram model at ``path`` (default: the bundled one; ``None`` when kelp has none)."""
    target = Path(path) if path else DEFAULT_NGRAM
    if path is None and not target.exists():
        return None
    return NgramLM.load(target)
