"""``kelp eval search``: docstring -> function retrieval, CodeSearchNet-style (Husain et al. 2019).

The searched code is never used to train kelp's encoder: the standard-library modules in
:data:`~kelp.train.encoder_trainer.HELD_OUT_STDLIB` and the third-party packages in
:data:`EVAL_PACKAGES` (which the training corpus does not read). Every function and method of
those sources (test directories excepted) is indexed with its docstring removed
(:func:`~kelp.program.docstrings.strip_docstring`). Each function whose docstring's first
sentence has at least 3 words, and is not shared with another function, gives a query (that
sentence) whose one relevant document is the function itself; ``n`` of them are drawn with the
seed.

The index holds the dense encoders listed among the retrievers (``ours`` alone when only
``hybrid``/``dense`` ask for one), and ``hybrid`` fuses BM25 with all of them. Per retriever:
MRR@10, recall@1 and recall@10 with 95% bootstrap intervals over queries (Efron
1979), and the "opposite query" check: the share of queries for which the relevant function
scores higher under its own query than under an unrelated one (another query of the set, a
seeded derangement). Per-query ranks go to ``queries.jsonl`` (written as they come; a rerun
resumes), the index to ``index/`` (reused), the summary to ``summary.json`` and a table to
``table.md``.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import random
import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path

#: Installed third-party packages searched by the evaluation (absent ones are skipped).
EVAL_PACKAGES = ("sklearn",)
_SKIP_PARTS = {"tests", "test", "testing", "_vendor", "externals", "__pycache__"}


class SearchEvalError(ValueError):
    """Bad settings, no evaluation sources, or an output directory holding another run."""


@dataclass(frozen=True)
class SearchEvalConfig:
    """Everything that determines a search evaluation (saved as ``config.json``)."""

    retrievers: tuple[str, ...] = ("bm25", "minilm", "ours", "hybrid")
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
    from kelp.train.encoder_trainer import HELD_OUT_STDLIB

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


def _gold_score(searcher, query: str, gold: int, retriever: str) -> float:
    """The score of chunk position ``gold`` for ``query`` under ``retriever`` (hybrid: its RRF
    score, 0 outside every retriever's top 100)."""
    from kelp.retrieval.search import RRF_K

    if retriever == "bm25":
        return float(searcher.bm25_scores(query)[gold])
    if retriever == "hybrid":
        total = 0.0
        for name in ["bm25", *searcher.encoder_names]:
            for rank, (i, _) in enumerate(searcher.ranked(query, name, 100), 1):
                if i == gold:
                    total += 1.0 / (RRF_K + rank)
        return total
    name = searcher.encoder_names[0] if retriever == "dense" else retriever
    return float(searcher.dense_scores(query, name)[gold])


def run_search_eval(config: SearchEvalConfig, out: Path, *, quiet: bool = False) -> dict:
    """Run (or resume) the evaluation into ``out``; returns the summary. Raises
    :class:`SearchEvalError` for bad settings or an ``out`` holding another run."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from kelp.bench.metrics import bootstrap_ci
    from kelp.retrieval.encoders import MiniLMEncoder, OwnEncoder
    from kelp.retrieval.index import build_from_chunks
    from kelp.retrieval.search import CodeSearcher

    config.check()
    out.mkdir(parents=True, exist_ok=True)
    settings = json.loads(json.dumps(asdict(config)))
    config_path = out / "config.json"
    if config_path.exists() and json.loads(config_path.read_text()) != settings:
        raise SearchEvalError(f"{out} holds a run with other settings; use another --out")
    config_path.write_text(json.dumps(settings, indent=2) + "\n")
    documents, queries = eval_corpus(config.packages)
    if config.n is not None and config.n < len(queries):
        queries = random.Random(config.seed).sample(queries, config.n)
    # the index holds the listed encoders; hybrid fuses BM25 with them (with "ours" if none is listed)
    dense = sorted({r for r in config.retrievers if r in ("minilm", "ours")})
    if not dense and {"hybrid", "dense"} & set(config.retrievers):
        dense = ["ours"]
    encoders = {}
    if "ours" in dense:
        encoders["ours"] = OwnEncoder(config.encoder_checkpoint)
    if "minilm" in dense:
        encoders["minilm"] = MiniLMEncoder()
    index_dir = out / "index"
    if not (index_dir / "bm25").exists():
        import shutil

        shutil.rmtree(index_dir, ignore_errors=True)  # an interrupted build
        build_from_chunks(documents, index_dir, [encoders[name] for name in dense], progress=not quiet)
    searcher = CodeSearcher(index_dir, encoders)
    order = list(range(len(queries)))
    random.Random(config.seed + 1).shuffle(order)
    # each query's unrelated partner: the next one in a seeded cycle (never itself when n > 1)
    derange = {a: order[(i + 1) % len(order)] for i, a in enumerate(order)}
    records_path = out / "queries.jsonl"
    done = {}
    if records_path.exists():
        for line in records_path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                done[record["position"]] = record
    with Progress(TextColumn("search eval"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  disable=quiet) as progress, records_path.open("a") as sink:
        job = progress.add_task("queries", total=len(queries), completed=len(done))
        for position, (query, gold) in enumerate(queries):
            if position in done:
                continue
            unrelated = queries[derange[position]][0]
            record = {"position": position, "query": query, "gold": documents[gold].path + ":" + documents[gold].name}
            for retriever in config.retrievers:
                ranked = [i for i, _ in searcher.ranked(query, retriever, 10)]
                rank = ranked.index(gold) + 1 if gold in ranked else None
                own = _gold_score(searcher, query, gold, retriever)
                other = _gold_score(searcher, unrelated, gold, retriever)
                record[retriever] = {"rank": rank, "above_unrelated": own > other}
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            done[position] = record
            progress.advance(job)
    records = [done[p] for p in sorted(done)]
    summary = {"documents": len(documents), "queries": len(records),
               "sources": [label for label, _ in eval_sources(config.packages)], "retrievers": {}}
    for retriever in config.retrievers:
        ranks = [r[retriever]["rank"] for r in records]
        rr = [1.0 / k if k else 0.0 for k in ranks]
        r1 = [1.0 if k == 1 else 0.0 for k in ranks]
        r10 = [1.0 if k else 0.0 for k in ranks]
        above = [1.0 if r[retriever]["above_unrelated"] else 0.0 for r in records]
        mean = (lambda xs: round(sum(xs) / len(xs), 4) if xs else 0.0)
        summary["retrievers"][retriever] = {
            "mrr10": mean(rr), "mrr10_ci95": list(bootstrap_ci(rr)), "recall1": mean(r1),
            "recall1_ci95": list(bootstrap_ci(r1)), "recall10": mean(r10), "recall10_ci95": list(bootstrap_ci(r10)),
            "above_unrelated": mean(above)}
    summary["config"] = settings
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "table.md").write_text(results_table(summary) + "\n")
    return summary


def results_table(summary: dict) -> str:
    """A Markdown table of a :func:`run_search_eval` summary, one row per retriever."""
    lines = ["| retriever | MRR@10 [95% CI] | recall@1 | recall@10 | above an unrelated query |",
             "|---|---|---|---|---|"]
    for name, m in summary["retrievers"].items():
        low, high = m["mrr10_ci95"]
        lines.append(f"| {name} | {m['mrr10']:.3f} [{low:.3f}, {high:.3f}] | {m['recall1']:.1%} | "
                     f"{m['recall10']:.1%} | {m['above_unrelated']:.1%} |")
    return "\n".join(lines)


__all__ = ["EVAL_PACKAGES", "SearchEvalConfig", "SearchEvalError", "eval_corpus", "eval_sources", "results_table",
           "run_search_eval"]
