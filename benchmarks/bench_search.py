"""Code-search speed: index build throughput and query latency on a large index (issue 5).

Builds an index of the installed Python packages (``site-packages`` of this interpreter, or
``--root``) up to ``--chunks`` chunks with the dense ``--encoders``, then times ``--queries``
single queries per retriever (index loaded once, encoders warm, one query at a time, as
``kelp search`` runs them). Queries are first sentences of docstrings of the indexed code.
Prints one JSON object:

- ``build``: chunks, seconds, chunks/s (chunking + explanations + embedding + BM25 + export),
  and the embedding share of the time;
- ``load_seconds``: opening the index (SQLite, BM25, vectors);
- ``latency_ms``: p50 / p95 per retriever.

Targets (issue 5): p50 <= 30 ms and p95 <= 100 ms on >= 50,000 chunks; >= 300 chunks/s with
dense embeddings on 2 cores.

    python benchmarks/bench_search.py --chunks 50000 --out runs/bench-search
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import sysconfig
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=sysconfig.get_paths()["purelib"], help="tree to index")
    parser.add_argument("--chunks", type=int, default=50000, help="stop reading files after this many chunks")
    parser.add_argument("--encoders", default="ours", help="comma-separated dense encoders (ours, minilm)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", default="runs/bench-search")
    args = parser.parse_args()

    from kelp.program.docstrings import dedent_code, first_sentence
    from kelp.program.tree import ProgramSyntaxError
    from kelp.retrieval.chunking import chunk_tree
    from kelp.retrieval.encoders import load_encoder
    from kelp.retrieval.index import build_from_chunks
    from kelp.retrieval.search import CodeSearcher

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    names = [n for n in args.encoders.split(",") if n and n != "none"]
    encoders = {n: load_encoder(n) for n in names}
    started = time.perf_counter()
    chunks = []
    for _, file_chunks in chunk_tree(Path(args.root)):
        chunks.extend(file_chunks)
        if len(chunks) >= args.chunks:
            break
    chunks = chunks[: args.chunks]
    read_seconds = time.perf_counter() - started

    class Timed:
        """Wraps an encoder to time its document embedding."""

        def __init__(self, inner):
            self.inner, self.name, self.dim, self.seconds = inner, inner.name, inner.dim, 0.0

        def encode_documents(self, texts):
            t = time.perf_counter()
            v = self.inner.encode_documents(texts)
            self.seconds += time.perf_counter() - t
            return v

    timed = [Timed(e) for e in encoders.values()]
    stats = build_from_chunks(chunks, out / "index", timed, progress=True)
    build_seconds = read_seconds + stats.seconds
    t = time.perf_counter()
    searcher = CodeSearcher(out / "index", encoders)
    load_seconds = time.perf_counter() - t

    import ast

    rng = random.Random(0)
    queries = []
    for chunk in rng.sample(chunks, len(chunks)):
        if chunk.language != "python" or chunk.kind not in ("function", "method"):
            continue
        try:
            node = ast.parse(dedent_code(chunk.text))
        except ProgramSyntaxError:
            continue
        defs = [n for n in ast.walk(node) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        doc = first_sentence(ast.get_docstring(defs[0]) or "") if defs else ""
        if len(doc.split()) >= 3:
            queries.append(doc)
        if len(queries) >= args.queries:
            break
    latency = {}
    for retriever in ["bm25", *names, *(["hybrid"] if names else [])]:
        searcher.search(queries[0], k=10, retriever=retriever)  # warm-up
        times = []
        for q in queries:
            t = time.perf_counter()
            searcher.search(q, k=10, retriever=retriever)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        latency[retriever] = {"p50": round(statistics.median(times), 2),
                              "p95": round(times[int(0.95 * (len(times) - 1))], 2)}
    report = {
        "root": args.root, "encoders": names, "threads": __import__("torch").get_num_threads(),
        "build": {"chunks": len(chunks), "seconds": round(build_seconds, 2),
                  "chunks_per_second": round(len(chunks) / build_seconds, 1),
                  "embedding_seconds": {e.name: round(e.seconds, 2) for e in timed}},
        "load_seconds": round(load_seconds, 3), "queries": len(queries), "latency_ms": latency,
    }
    print(json.dumps(report, indent=2))
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
