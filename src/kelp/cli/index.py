"""``kelp index`` and ``kelp search``: build a code-search index, query it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from kelp.cli._console import UserError, err, out


def index_cmd(
    path: Path = typer.Argument(..., help="Directory to index (a repository; .gitignore, vendored and binary files are skipped)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Index directory (default: .kelp-index at the root of the git repository holding PATH, else PATH/.kelp-index); a rerun updates only changed files."),
    encoders: str = typer.Option("ours", "--encoders", help="Dense encoders, comma-separated: ours (kelp's code encoder), minilm (all-MiniLM-L6-v2), or none for BM25 only."),
    exclude: list[str] = typer.Option([], "--exclude", metavar="GLOB", help="Skip files whose path relative to PATH matches GLOB (fnmatch; a GLOB without / also matches any one path component, one ending in / a directory). Repeatable."),
    include_tests: bool = typer.Option(False, "--include-tests", help="Index tests too. By default these are excluded: test_*.py, *_test.py, tests/, test/, conftest.py."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Embed the chunks as Ray tasks: 'local' starts a Ray runtime on this machine, HOST:PORT joins a cluster (needs pip install 'kelp[scale]')."),
) -> None:
    """Build or update a code-search index (SQLite + BM25 + dense vectors).

    The index goes to .kelp-index at the root of the repository holding PATH (the nearest of PATH and its parents with a .git; PATH itself if none), or to --out DIR.

    Tests are left out unless --include-tests: the default exclude patterns are test_*.py, *_test.py, tests/, test/ and conftest.py (kelp.retrieval.chunking.DEFAULT_EXCLUDES); --exclude GLOB adds more.

    Prints where the index went on stderr and a JSON summary (only that) on stdout."""
    from kelp.retrieval.chunking import exclude_patterns
    from kelp.retrieval.encoders import load_encoder
    from kelp.retrieval.index import build_index, default_index_dir

    names = [] if encoders.strip() == "none" else [e.strip() for e in encoders.split(",") if e.strip()]
    if len(set(names)) != len(names):
        raise UserError("--encoders lists an encoder twice")
    out_dir = (out_dir or default_index_dir(path)).absolute()
    stats = build_index(path, out_dir, [load_encoder(n) for n in names],
                        exclude=exclude_patterns(exclude, include_tests=include_tests), ray=ray)
    err.print(f"index written to {out_dir} ({stats.chunks} chunks)", markup=False, soft_wrap=True)
    print(json.dumps({"index": str(out_dir), **stats.__dict__}))


def search_cmd(
    query: str = typer.Argument(..., help="What you are looking for, in words or identifiers."),
    index_dir: Optional[Path] = typer.Option(None, "--index", help="Index directory built by `kelp index` (default: the first .kelp-index in the current directory or a parent)."),
    k: int = typer.Option(10, "-k", "--k", help="Hits to show."),
    retriever: str = typer.Option("hybrid", "--retriever", help="bm25, dense (the index's first encoder), ours, minilm, hybrid (learned weighted sum of all) or rrf (reciprocal rank fusion of all)."),
    as_json: bool = typer.Option(False, "--json", help="Print the hits as JSON."),
    lines: int = typer.Option(6, "--lines", help="Snippet lines per hit (0 for none)."),
) -> None:
    """Search an index: ranked hits with path:line, score, a one-line explanation and a snippet.

    Without --index, uses the first .kelp-index directory found walking up from the current directory to the filesystem root; none found is an error (exit status 2)."""
    from rich.syntax import Syntax

    from kelp.retrieval.index import find_index
    from kelp.retrieval.search import CodeSearcher

    hits = CodeSearcher(index_dir if index_dir is not None else find_index()).search(query, k=k, retriever=retriever)
    if as_json:
        print(json.dumps([h.to_json() for h in hits], indent=2))
        return
    if not hits:
        err.print("no hits")
    for hit in hits:
        c = hit.chunk
        out.print(f"[bold]{hit.rank}. {c.path}:{c.start_line}[/bold]  {c.name}  [dim]score {hit.score:.4f}[/dim]")
        out.print(f"   {c.explanation}  ({c.tier})", markup=False, style="italic")
        if lines > 0:
            snippet = "\n".join(c.text.splitlines()[:lines])
            lexer = "python" if c.language == "python" else ("markdown" if c.language == "markdown" else "text")
            out.print(Syntax(snippet, lexer, line_numbers=True, start_line=c.start_line, word_wrap=True))
