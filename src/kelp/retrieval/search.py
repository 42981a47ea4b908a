"""Querying a code-search index (:mod:`kelp.retrieval.index`).

Retrievers:

- ``bm25``: Okapi BM25 (Robertson & Zaragoza 2009) via ``bm25s`` over code-aware tokens
  (identifiers kept whole and split at snake_case / camelCase boundaries);
- ``minilm`` / ``ours``: cosine similarity of dense vectors from that encoder
  (:mod:`kelp.retrieval.encoders`); ``dense`` means the index's first encoder;
- ``hybrid``: a weighted sum of BM25 (divided by the query's best BM25 score, so it lies in
  [0, 1]) and the cosine similarity of every dense encoder of the index (:func:`fuse`), with
  weights learned on the development split of ``kelp eval search`` (:data:`FUSION_WEIGHTS`);
- ``rrf``: reciprocal rank fusion (Cormack, Clarke & Buettcher 2009, "Reciprocal Rank Fusion
  outperforms Condorcet and individual Rank Learning Methods") of the same retrievers:
  ``score(d) = sum_r 1 / (k + rank_r(d))`` over each retriever's top ``depth`` hits, ``k`` = 60
  as in the paper.

Results are deterministic: the same query on the same index gives the same scores bit for bit
(ties are broken by chunk id).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kelp.retrieval.index import SearchIndexError, StoredChunk, bm25_tokens, read_index

#: Retriever names accepted by :meth:`CodeSearcher.search` (besides an encoder's own name).
RETRIEVERS = ("bm25", "dense", "ours", "minilm", "hybrid", "rrf")
RRF_K = 60
#: Weights of :func:`fuse` by the retrievers an index has (names sorted), learned by ``kelp eval search``
#: (grid search in steps of 0.1 on its development split, seed 0: ``kelp eval search --out
#: runs/search-eval``, key ``fusion_weights_by_retrievers`` of its ``summary.json``).
FUSION_WEIGHTS: dict[tuple[str, ...], dict[str, float]] = {
    ("bm25", "minilm", "ours"): {"bm25": 0.2, "minilm": 0.6, "ours": 0.2},
    ("bm25", "minilm"): {"bm25": 0.2, "minilm": 0.8},
    ("bm25", "ours"): {"bm25": 0.5, "ours": 0.5},
}


def fuse(scores: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Weighted sum of retriever scores over chunks (last axis; any leading axes are queries):
    ``bm25`` divided by its maximum over the chunks (0 when the query shares no term), dense
    cosines as they are. ``scores`` and ``weights`` have the same keys. Returns float32."""
    total = None
    for name, weight in weights.items():
        values = np.asarray(scores[name], dtype=np.float32)
        if name == "bm25":
            top = values.max(axis=-1, keepdims=True) if values.size else np.ones(values.shape[:-1] + (1,), np.float32)
            values = values / np.maximum(top, np.float32(1e-9))
        part = np.float32(weight) * values
        total = part if total is None else total + part
    return total


@dataclass(frozen=True)
class Hit:
    """One search result: the stored ``chunk``, its ``score`` under the retriever used (BM25
    score, cosine similarity, fused score or RRF score) and its 1-based ``rank``."""

    chunk: StoredChunk
    score: float
    rank: int

    def to_json(self) -> dict:
        """The hit as a JSON-ready dict (path, line span, name, kind, score, explanation, tier)."""
        c = self.chunk
        return {"rank": self.rank, "score": self.score, "path": c.path, "start_line": c.start_line,
                "end_line": c.end_line, "name": c.name, "kind": c.kind, "explanation": c.explanation,
                "explanation_source": c.tier}


def _top(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Indices and scores of the ``k`` best entries, best first, ties by index."""
    k = min(k, scores.size)
    if k <= 0:
        return []
    part = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
    order = sorted(part.tolist(), key=lambda i: (-float(scores[i]), i))
    return [(i, float(scores[i])) for i in order]


class CodeSearcher:
    """A loaded index, ready for queries. ``encoders``: pre-built encoder objects by name (else
    they are loaded on first use with :func:`~kelp.retrieval.encoders.load_encoder`).
    ``fusion_weights``: weights of ``hybrid`` by retriever name (default: :data:`FUSION_WEIGHTS`
    for the index's retrievers, else equal weights). Raises
    :class:`~kelp.retrieval.index.SearchIndexError` when ``directory`` is not an index."""

    def __init__(self, directory: Path | str, encoders: dict | None = None,
                 fusion_weights: dict[str, float] | None = None) -> None:
        import json

        import bm25s

        self.directory = Path(directory)
        self.chunks, meta = read_index(self.directory)
        self.encoder_names: list[str] = json.loads(meta.get("encoders", "[]"))
        self._encoders = dict(encoders or {})
        self.vectors = {name: np.load(self.directory / f"vectors-{name}.npy", allow_pickle=False)
                        for name in self.encoder_names}
        self.bm25 = bm25s.BM25.load(str(self.directory / "bm25"), load_vocab=True) if self.chunks else None
        names = ("bm25", *self.encoder_names)
        self.fusion_weights = fusion_weights or FUSION_WEIGHTS.get(
            tuple(sorted(names)), {name: 1.0 / len(names) for name in names})

    def encoder(self, name: str):
        """The query encoder ``name`` (loaded once)."""
        from kelp.retrieval.encoders import load_encoder

        if name not in self._encoders:
            self._encoders[name] = load_encoder(name)
        return self._encoders[name]

    def bm25_scores(self, query: str) -> np.ndarray:
        """(chunks,) float32 BM25 score of every chunk (0 without shared terms)."""
        if self.bm25 is None:
            return np.zeros(0, dtype=np.float32)
        terms = [t for t in bm25_tokens("", "", query) if t in self.bm25.vocab_dict]
        if not terms:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(terms), dtype=np.float32)

    def dense_scores(self, query: str, name: str) -> np.ndarray:
        """(chunks,) float32 cosine similarity of the query to every chunk under encoder ``name``."""
        if name not in self.vectors:
            raise SearchIndexError(f"this index has no {name!r} vectors (it has {self.encoder_names}); "
                                   "rebuild it with that encoder")
        q = np.asarray(self.encoder(name).encode_queries([query]), dtype=np.float32)[0]
        return self.vectors[name] @ q

    def ranked(self, query: str, retriever: str, depth: int) -> list[tuple[int, float]]:
        """The ``depth`` best (chunk position, score) pairs under ``retriever``."""
        if retriever == "bm25":
            return _top(self.bm25_scores(query), depth)
        if retriever == "dense":
            if not self.encoder_names:
                raise SearchIndexError("this index has no dense vectors; use --retriever bm25")
            retriever = self.encoder_names[0]
        if retriever in self.encoder_names or retriever in ("ours", "minilm"):
            return _top(self.dense_scores(query, retriever), depth)
        if retriever == "hybrid":
            scores = {name: self.bm25_scores(query) if name == "bm25" else self.dense_scores(query, name)
                      for name in self.fusion_weights}
            return _top(fuse(scores, self.fusion_weights), depth)
        if retriever == "rrf":
            fused: dict[int, float] = {}
            for name in ["bm25", *self.encoder_names]:
                for rank, (i, _) in enumerate(self.ranked(query, name, max(depth, 100)), 1):
                    fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank)
            order = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
            return order[:depth]
        raise SearchIndexError(f"unknown retriever {retriever!r}; choose one of {', '.join(RETRIEVERS)}")

    def search(self, query: str, k: int = 10, retriever: str = "hybrid") -> list[Hit]:
        """The ``k`` best hits for ``query`` (best first). Raises
        :class:`~kelp.retrieval.index.SearchIndexError` for an empty query, k < 1, an unknown
        retriever or one the index has no vectors for."""
        if not query.strip():
            raise SearchIndexError("the query is empty")
        if k < 1:
            raise SearchIndexError(f"k must be >= 1, got {k}")
        return [Hit(self.chunks[i], score, rank) for rank, (i, score) in enumerate(self.ranked(query, retriever, k), 1)]


__all__ = ["FUSION_WEIGHTS", "RETRIEVERS", "RRF_K", "CodeSearcher", "Hit", "fuse"]
