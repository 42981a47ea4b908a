"""``kelp eval search``: docstring -> function retrieval, CodeSearchNet-style (Husain et al. 2019).

The searched code is never used to train kelp's encoder: the standard-library modules in
:data:`~kelp.datasets.code_search.HELD_OUT_STDLIB` and the third-party packages in
:data:`EVAL_PACKAGES` (which the training corpus does not read). Every function and method of
those sources (test directories excepted) is indexed with its docstring removed
(:func:`~kelp.program.docstrings.strip_docstring`). Each function whose docstring's first
sentence has at least 3 words, and is not shared with another function, gives a query (that
sentence) whose one relevant document is the function itself; ``n`` of them are drawn with the
seed.

The index holds the dense encoders listed among the retrievers (``ours`` alone when only
``hybrid``/``dense`` ask for one), and ``hybrid`` fuses BM25 with all of them. The queries are split (seeded) into a development share (:data:`DEV_SHARE`), on which the
``hybrid`` retriever's fusion weights are fitted (:func:`fit_fusion`), and a test share, on
which every retriever is measured: MRR@10, recall@1 and recall@10 with 95% bootstrap intervals
over queries (Efron 1979), and the "opposite query" check: the share of test queries for which
the relevant function scores higher under its own query than under an unrelated one (another
test query, a seeded cycle). Scores come from full (queries x functions) matrices, ranked with
the ties rule of ``kelp search``. The index is kept in ``index/`` (reused by a rerun: embedding
is the slow part), per-query ranks go to ``queries.jsonl``, the summary (with the fitted
weights) to ``summary.json`` and a table to ``table.md``.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import random
import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kelp.errors import KelpError

#: Installed third-party packages searched by the evaluation (absent ones are skipped).
EVAL_PACKAGES = ("sklearn",)
#: Share of the queries (seeded) on which the hybrid's fusion weights are fitted; the metrics
#: are reported on the others.
DEV_SHARE = 0.3
_SKIP_PARTS = {"tests", "test", "testing", "_vendor", "externals", "__pycache__"}


class SearchEvalError(KelpError, ValueError):
    """Bad settings, no evaluation sources, or an output directory holding another run."""


@dataclass(frozen=True)
class SearchEvalConfig:
    """Everything that determines a search evaluation (saved as ``config.json``)."""

    retrievers: tuple[str, ...] = ("bm25", "minilm", "ours", "hybrid", "rrf")
    n: int | None = 1000
    seed: int = 0
    packages: tuple[str, ...] = EVAL_PACKAGES
    encoder_checkpoint: str | None = None

    def check(self) -> None:
        """Raise :class:`SearchEvalError` for settings that cannot run."""
        from kelp.retrieval.search import RETRIEVERS

        unknown = [r for r in self.retrievers if r not in RETRIEVERS]
        if unknown or not self.retrievers:
            raise SearchEvalError(f"unknown retrievers {unknown}; choose from {', '.join(RETRIEVERS)}")
        if self.n is not None and self.n < 1:
            raise SearchEvalError("--n must be >= 1")


def eval_sources(packages: tuple[str, ...]) -> list[tuple[str, Path]]:
    """``(label, directory or file)`` of every evaluation source that exists here: the held-out
    standard-library modules, then the installed ``packages``."""
    from kelp.datasets.code_search import HELD_OUT_STDLIB

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources = []
    for name in HELD_OUT_STDLIB:
        for candidate in (stdlib / name, stdlib / f"{name}.py"):
            if candidate.exists():
                sources.append((f"stdlib/{name}", candidate))
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            sources.append((name, Path(list(spec.submodule_search_locations)[0])))
    return sources


def eval_corpus(packages: tuple[str, ...]) -> tuple[list, list[tuple[str, int]]]:
    """``(documents, queries)``: every function/method chunk of the sources with its docstring
    removed, and ``(query, index of its document)`` for the documented ones (first sentences of
    at least 3 words that no other function shares). Raises :class:`SearchEvalError` when no
    source is found."""
    from kelp.program.docstrings import dedent_code, first_sentence, strip_docstring
    from kelp.program.tree import ProgramSyntaxError
    from kelp.retrieval.chunking import Chunk, chunk_python, read_text

    sources = eval_sources(packages)
    if not sources:
        raise SearchEvalError("no evaluation sources found (held-out standard-library modules or packages)")
    documents: list[Chunk] = []
    sentences: list[str | None] = []
    for label, location in sources:
        files = [location] if location.is_file() else sorted(location.rglob("*.py"))
        for path in files:
            rel = f"{label}.py" if location.is_file() else f"{label}/{path.relative_to(location).as_posix()}"
            if _SKIP_PARTS & set(Path(rel).parts):
                continue
            text = read_text(path)
            if text is None:
                continue
            for chunk in chunk_python(text, rel):
                if chunk.kind not in ("function", "method"):
                    continue
                try:
                    node = ast.parse(dedent_code(chunk.text)).body
                    stripped = strip_docstring(chunk.text)
                except (ProgramSyntaxError, SyntaxError):
                    continue
                defs = [d for d in node if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef))]
                doc = ast.get_docstring(defs[0]) if defs else None
                lines = stripped.count("\n") + (not stripped.endswith("\n"))
                documents.append(Chunk(chunk.path, chunk.kind, chunk.name, chunk.start_line,
                                       chunk.start_line + lines - 1, stripped, "python"))
                sentence = first_sentence(doc) if doc else ""
                sentences.append(sentence if len(sentence.split()) >= 3 else None)
    counts: dict[str, int] = {}
    for s in sentences:
        if s:
            counts[s] = counts.get(s, 0) + 1
    queries = [(s, i) for i, s in enumerate(sentences) if s and counts[s] == 1]
    return documents, queries


def fit_fusion(scores: dict[str, np.ndarray], gold: np.ndarray, step: float = 0.1) -> tuple[dict[str, float], float]:
    """Weights of :func:`~kelp.retrieval.search.fuse` maximising MRR@10 over the queries of
    ``scores`` (name -> (Q, N) score matrix) whose relevant chunk is ``gold`` (Q,): a grid search
    over the simplex in steps of ``step``. Returns ``(weights, MRR@10)``; ties go to the first
    grid point (lexicographic)."""
    import itertools

    from kelp.retrieval.search import fuse

    names = sorted(scores)
    ticks = round(1 / step)
    best: tuple[dict[str, float], float] = ({n: 1.0 / len(names) for n in names}, -1.0)
    for parts in itertools.product(range(ticks + 1), repeat=len(names) - 1):
        if sum(parts) > ticks:
            continue
        weights = dict(zip(names, [round(p * step, 6) for p in parts] + [round((ticks - sum(parts)) * step, 6)]))
        value = float(np.mean(reciprocal_ranks(fuse(scores, weights), gold)))
        if value > best[1]:
            best = (weights, value)
    return best


def ranks_of(matrix: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """(Q,) 1-based rank of each query's ``gold`` column in its row of ``matrix`` (Q, N); ties
    count against the gold chunk (strictly higher scores rank above, equal scores of lower
    chunk ids too), as in :meth:`~kelp.retrieval.search.CodeSearcher.search`."""
    g = matrix[np.arange(len(gold)), gold][:, None]
    columns = np.arange(matrix.shape[1])[None, :]
    return ((matrix > g) | ((matrix == g) & (columns < gold[:, None]))).sum(axis=1) + 1


def reciprocal_ranks(matrix: np.ndarray, gold: np.ndarray, cutoff: int = 10) -> np.ndarray:
    """(Q,) reciprocal rank of the gold chunk, 0 below ``cutoff``."""
    rank = ranks_of(matrix, gold)
    return np.where(rank <= cutoff, 1.0 / rank, 0.0)


def _rrf(matrices: list[np.ndarray], depth: int = 100) -> np.ndarray:
    """Reciprocal rank fusion of full score matrices (each retriever's top ``depth`` per query)."""
    from kelp.retrieval.search import RRF_K

    total = np.zeros_like(matrices[0], dtype=np.float64)
    columns = np.arange(matrices[0].shape[1])
    for m in matrices:
        order = np.lexsort((np.broadcast_to(columns, m.shape), -m), axis=1)[:, :depth]
        rows = np.arange(m.shape[0])[:, None]
        total[rows, order] += 1.0 / (RRF_K + np.arange(1, order.shape[1] + 1))[None, :]
    return total


def run_search_eval(config: SearchEvalConfig, out: Path, *, quiet: bool = False, ray: str | None = None) -> dict:
    """Run (or resume) the evaluation into ``out``; returns the summary. ``ray``: ``"local"`` or
    a Ray cluster address: the index's chunks are embedded as Ray tasks (:mod:`kelp.scale`).
    Raises :class:`SearchEvalError` for bad settings or an ``out`` holding another run, and
    :class:`kelp.scale.ScaleError` (before ``out`` is made) when Ray is missing or unreachable."""
    from kelp.scale import connect

    with connect(ray):
        return _run_search_eval(config, Path(out), quiet=quiet, ray=bool(ray))


def _run_search_eval(config: SearchEvalConfig, out: Path, *, quiet: bool, ray: bool) -> dict:
    from kelp.retrieval.search import fuse

    settings = _claim(config, out)
    documents, queries = eval_corpus(config.packages)
    if config.n is not None and config.n < len(queries):
        queries = random.Random(config.seed).sample(queries, config.n)
    searcher, dense = _searcher(config, documents, out / "index", quiet, ray)
    texts = [q for q, _ in queries]
    gold = np.array([g for _, g in queries], dtype=np.int64)
    base = _scores(searcher, texts, dense, len(documents), quiet)
    # development / test split of the queries (seeded): fusion weights are fitted on dev only
    order = list(range(len(queries)))
    random.Random(config.seed).shuffle(order)
    dev = np.array(sorted(order[: int(len(order) * DEV_SHARE)]), dtype=np.int64)
    test = np.array(sorted(order[int(len(order) * DEV_SHARE):]), dtype=np.int64)
    weights, dev_mrr = fit_fusion({k: v[dev] for k, v in base.items()}, gold[dev])
    # weights for the smaller indexes `kelp index` can build (BM25 with one encoder)
    by_retrievers = {"+".join(sorted(base)): weights}
    for name in dense if len(dense) > 1 else []:
        by_retrievers[f"bm25+{name}"] = fit_fusion({k: base[k][dev] for k in ("bm25", name)}, gold[dev])[0]
    matrices = dict(base)
    if "dense" in config.retrievers and dense:
        matrices["dense"] = base[dense[0]]
    if "hybrid" in config.retrievers:
        matrices["hybrid"] = fuse(base, weights)
    if "rrf" in config.retrievers:
        matrices["rrf"] = _rrf(list(base.values()))
    # each test query's unrelated partner: the next test query in a seeded cycle
    cycle = list(test)
    random.Random(config.seed + 1).shuffle(cycle)
    partner = {int(a): int(cycle[(i + 1) % len(cycle)]) for i, a in enumerate(cycle)}
    other_rows = np.array([np.searchsorted(test, partner[int(i)]) for i in test], dtype=np.int64)
    summary = {"documents": len(documents), "queries": len(queries), "dev_queries": len(dev),
               "test_queries": len(test), "sources": [label for label, _ in eval_sources(config.packages)],
               "fusion_weights": weights, "fusion_dev_mrr10": round(dev_mrr, 4),
               "fusion_weights_by_retrievers": by_retrievers, "retrievers": {}}
    records = [{"query": texts[i], "gold": f"{documents[gold[i]].path}:{documents[gold[i]].name}"} for i in test]
    for retriever in config.retrievers:
        summary["retrievers"][retriever] = _metrics(matrices[retriever][test], gold[test], other_rows,
                                                    records, retriever)
    with (out / "queries.jsonl").open("w") as sink:
        for record in records:
            sink.write(json.dumps(record) + "\n")
    summary["config"] = settings
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "table.md").write_text(results_table(summary) + "\n")
    return summary


def _claim(config: SearchEvalConfig, out: Path) -> dict:
    """Check ``config``, make ``out`` and write its ``config.json``; the settings as JSON data.
    Raises :class:`SearchEvalError` when ``out`` holds a run with other settings."""
    config.check()
    out.mkdir(parents=True, exist_ok=True)
    settings = json.loads(json.dumps(asdict(config)))
    config_path = out / "config.json"
    if config_path.exists() and json.loads(config_path.read_text()) != settings:
        raise SearchEvalError(f"{out} holds a run with other settings; use another --out")
    config_path.write_text(json.dumps(settings, indent=2) + "\n")
    return settings


def _searcher(config: SearchEvalConfig, documents: list, index_dir: Path, quiet: bool, ray: bool = False):
    """``(CodeSearcher, dense encoder names)`` over an index of ``documents`` in ``index_dir``
    (built unless complete). The index holds the listed encoders; hybrid fuses BM25 with them
    (with ``ours`` if none is listed)."""
    from kelp.retrieval.encoders import MiniLMEncoder, OwnEncoder
    from kelp.retrieval.index import build_from_chunks
    from kelp.retrieval.search import CodeSearcher

    dense = sorted({r for r in config.retrievers if r in ("minilm", "ours")})
    if not dense and {"hybrid", "rrf", "dense"} & set(config.retrievers):
        dense = ["ours"]
    encoders = {}
    if "ours" in dense:
        encoders["ours"] = OwnEncoder(config.encoder_checkpoint)
    if "minilm" in dense:
        encoders["minilm"] = MiniLMEncoder()
    if not (index_dir / "bm25").exists():
        import shutil

        shutil.rmtree(index_dir, ignore_errors=True)  # an interrupted build
        build_from_chunks(documents, index_dir, [encoders[name] for name in dense], progress=not quiet, ray=ray)
    return CodeSearcher(index_dir, encoders), dense


def _scores(searcher, texts: list[str], dense: list[str], n_documents: int, quiet: bool) -> dict[str, np.ndarray]:
    """Score matrices ``(queries, documents)`` of BM25 and of each dense encoder."""
    from kelp.progress import progress_bar

    base: dict[str, np.ndarray] = {}
    with progress_bar(enabled=not quiet) as progress:
        job = progress.add_task("scoring queries", total=len(texts) * (1 + len(dense)))
        base["bm25"] = np.stack([searcher.bm25_scores(q) for q in texts]) if texts else np.zeros((0, n_documents))
        progress.advance(job, len(texts))
        for name in dense:
            base[name] = searcher.encoder(name).encode_queries(texts) @ searcher.vectors[name].T
            progress.advance(job, len(texts))
    return base


def _metrics(m: np.ndarray, gold: np.ndarray, other_rows: np.ndarray, records: list[dict], retriever: str) -> dict:
    """MRR@10, recall@1 and @10 with bootstrap 95% CIs, and the share of queries that score their
    own function above an unrelated query's (``other_rows``), for one retriever's test-query
    scores ``m`` (queries, documents); adds each query's rank to ``records``."""
    from kelp.bench.metrics import bootstrap_ci

    ranks = ranks_of(m, gold)
    own = m[np.arange(len(gold)), gold]
    other = m[other_rows, gold]
    for record, rank, above in zip(records, ranks.tolist(), (own > other).tolist()):
        record[retriever] = {"rank": rank, "above_unrelated": above}
    rr = np.where(ranks <= 10, 1.0 / ranks, 0.0).tolist()
    r1 = (ranks == 1).astype(float).tolist()
    r10 = (ranks <= 10).astype(float).tolist()

    def mean(xs: list[float]) -> float:
        return round(sum(xs) / len(xs), 4) if xs else 0.0

    return {"mrr10": mean(rr), "mrr10_ci95": list(bootstrap_ci(rr)), "recall1": mean(r1),
            "recall1_ci95": list(bootstrap_ci(r1)), "recall10": mean(r10), "recall10_ci95": list(bootstrap_ci(r10)),
            "above_unrelated": mean((own > other).astype(float).tolist())}


def results_table(summary: dict) -> str:
    """A Markdown table of a :func:`run_search_eval` summary, one row per retriever."""
    lines = ["| retriever | MRR@10 [95% CI] | recall@1 | recall@10 | above an unrelated query |",
             "|---|---|---|---|---|"]
    for name, m in summary["retrievers"].items():
        low, high = m["mrr10_ci95"]
        lines.append(f"| {name} | {m['mrr10']:.3f} [{low:.3f}, {high:.3f}] | {m['recall1']:.1%} | "
                     f"{m['recall10']:.1%} | {m['above_unrelated']:.1%} |")
    return "\n".join(lines)


__all__ = ["DEV_SHARE", "EVAL_PACKAGES", "fit_fusion", "ranks_of", "reciprocal_ranks", "SearchEvalConfig", "SearchEvalError", "eval_corpus", "eval_sources", "results_table",
           "run_search_eval"]
