"""The code-search index: one directory with SQLite, dense vectors and a BM25 index; no pickle.

Layout of an index directory:

- ``index.sqlite``: ``meta`` (format, encoders), ``files`` (path, sha256 of the bytes),
  ``chunks`` (path, kind, qualified name, language, line span, text, content hash, explanation
  and its tier) and ``vectors`` (one float32 blob per chunk and encoder);
- ``bm25/``: a ``bm25s`` index (Lu 2024, arXiv:2407.03618; numpy arrays + JSON) over
  :func:`~kelp.retrieval.code_tokens.code_tokens` of each chunk's path, name and text;
- ``vectors-<encoder>.npy``: the (chunks, dim) float32 unit-row matrix of each encoder, rows in
  chunk-id order (``numpy.save`` without pickle), for fast loading.

:func:`build_index` is incremental: files whose sha256 is unchanged keep their chunks and
vectors; changed and new files are re-chunked and re-embedded; deleted files are dropped. BM25
and the matrices are rebuilt from SQLite afterwards (cheap next to embedding).

Where an index lives: ``kelp index PATH`` writes :data:`INDEX_DIRNAME` at the root of the
repository holding PATH (:func:`default_index_dir`, :func:`find_repo_root`), and ``kelp search``
takes the first :data:`INDEX_DIRNAME` found walking up from the current directory
(:func:`find_index`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kelp.errors import KelpError
from kelp.retrieval.chunking import Chunk

INDEX_FORMAT = "kelp.index/1"
#: Name of the index directory ``kelp index`` writes and ``kelp search`` looks for.
INDEX_DIRNAME = ".kelp-index"
_DB = "index.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    language TEXT NOT NULL, start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, text TEXT NOT NULL,
    content_hash TEXT NOT NULL, explanation TEXT NOT NULL, tier TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_path ON chunks(path);
CREATE TABLE IF NOT EXISTS vectors (
    chunk INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE, encoder TEXT NOT NULL,
    vector BLOB NOT NULL, PRIMARY KEY (chunk, encoder));
"""


class SearchIndexError(KelpError, ValueError):
    """A directory that is not a kelp index (or another format), or a build that cannot run."""


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as stored in the index: :class:`~kelp.retrieval.chunking.Chunk`'s fields plus its
    row ``id``, ``explanation`` and explanation ``tier``."""

    id: int
    path: str
    kind: str
    name: str
    language: str
    start_line: int
    end_line: int
    text: str
    content_hash: str
    explanation: str
    tier: str


@dataclass
class BuildStats:
    """What :func:`build_index` did: files seen / re-chunked / removed, chunks in the index,
    chunks embedded per encoder, and seconds spent."""

    files: int = 0
    changed: int = 0
    removed: int = 0
    chunks: int = 0
    embedded: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def connect(directory: Path) -> sqlite3.Connection:
    """Open (creating if needed) the index database in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(directory / _DB)
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(_SCHEMA)
    return db


def _meta(db: sqlite3.Connection) -> dict[str, str]:
    return dict(db.execute("SELECT key, value FROM meta"))


def _check_format(db: sqlite3.Connection, directory: Path) -> None:
    found = _meta(db).get("format")
    if found not in (None, INDEX_FORMAT):
        raise SearchIndexError(f"{directory} holds an index of format {found!r}; this kelp reads {INDEX_FORMAT!r}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def insert_chunks(db: sqlite3.Connection, chunks: Iterable[Chunk]) -> int:
    """Store ``chunks`` with their explanations (:func:`~kelp.retrieval.explain.explain`);
    returns how many."""
    from kelp.retrieval.explain import explain

    rows = []
    for c in chunks:
        why = explain(c)
        rows.append((c.path, c.kind, c.name, c.language, c.start_line, c.end_line, c.text, c.content_hash,
                     why.text, why.tier))
    db.executemany("INSERT INTO chunks (path, kind, name, language, start_line, end_line, text, content_hash,"
                   " explanation, tier) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def find_repo_root(path: Path) -> Path:
    """The root of the repository holding ``path``: the nearest of ``path`` (made absolute) and
    its ancestors that has a ``.git`` entry (a directory, or a file as in worktrees and
    submodules); ``path`` itself when none has."""
    path = Path(path).absolute()
    for directory in (path, *path.parents):
        if (directory / ".git").exists():
            return directory
    return path


def default_index_dir(path: Path) -> Path:
    """Where ``kelp index PATH`` puts its index without ``--out``: :data:`INDEX_DIRNAME` at
    :func:`find_repo_root` of ``path`` (absolute)."""
    return find_repo_root(path) / INDEX_DIRNAME


def find_index(start: Path | None = None) -> Path:
    """The first :data:`INDEX_DIRNAME` directory in ``start`` (default: the current directory)
    or one of its ancestors, up to the filesystem root (absolute). Raises
    :class:`SearchIndexError` when there is none."""
    start = Path.cwd() if start is None else Path(start).absolute()
    for directory in (start, *start.parents):
        if (directory / INDEX_DIRNAME).is_dir():
            return directory / INDEX_DIRNAME
    raise SearchIndexError(f"no {INDEX_DIRNAME} found in {start} or any parent; run `kelp index` first or give --index")


def sync_files(db: sqlite3.Connection, root: Path, stats: BuildStats, progress=None,
               exclude: tuple[str, ...] | list[str] = ()) -> None:
    """Bring the ``files`` and ``chunks`` tables in line with the files under ``root`` that the
    glob patterns ``exclude`` do not match (:func:`~kelp.retrieval.chunking.is_excluded`; files
    indexed before and excluded now are dropped)."""
    from kelp.retrieval.chunking import chunk_file, iter_files

    known = dict(db.execute("SELECT path, sha256 FROM files"))
    seen: set[str] = set()
    for path in iter_files(root, exclude=exclude):
        rel = path.relative_to(root).as_posix()
        seen.add(rel)
        stats.files += 1
        digest = _sha256(path)
        if known.get(rel) == digest:
            continue
        stats.changed += 1
        db.execute("DELETE FROM chunks WHERE path = ?", (rel,))
        insert_chunks(db, chunk_file(path, root))
        db.execute("INSERT OR REPLACE INTO files (path, sha256) VALUES (?, ?)", (rel, digest))
        if progress is not None:
            progress()
    for rel in set(known) - seen:
        stats.removed += 1
        db.execute("DELETE FROM chunks WHERE path = ?", (rel,))
        db.execute("DELETE FROM files WHERE path = ?", (rel,))


def embed_missing(db: sqlite3.Connection, encoder, batch: int = 256, progress=None, *, ray: bool = False) -> int:
    """Embed every chunk without a vector from ``encoder`` (an object with ``name`` and
    ``encode_documents``); returns how many. Each batch of ``batch`` chunks is committed when it
    is stored, so an interrupted build keeps it. ``progress(n)`` is called after each batch.

    ``ray``: the batches are encoded as Ray tasks (inside :func:`kelp.scale.connect`), each
    worker loading the encoder once (:func:`~kelp.retrieval.encoders.load_encoder` by its name
    and checkpoint); this process alone writes to the database."""
    from functools import partial

    from kelp.scale import Work, map_units

    todo = db.execute("SELECT id, text FROM chunks WHERE id NOT IN (SELECT chunk FROM vectors WHERE encoder = ?)"
                      " ORDER BY id", (encoder.name,)).fetchall()
    units = [(str(start), todo[start:start + batch]) for start in range(0, len(todo), batch)]
    if ray:
        work = Work(partial(_RemoteEncoder, encoder.name, getattr(encoder, "checkpoint", None)), _RemoteEncoder.encode)
    else:
        work = Work(lambda _cpus: encoder, _encode_part)
    for _key, (part, vectors) in ((k, _checked(r)) for k, r in map_units(work, units, ray=ray)):
        db.executemany("INSERT INTO vectors (chunk, encoder, vector) VALUES (?, ?, ?)",
                       [(i, encoder.name, v.tobytes()) for i, v in zip(part, vectors)])
        db.commit()
        if progress is not None:
            progress(len(part))
    return len(todo)


def _encode_part(encoder, part: list) -> tuple[list[int], np.ndarray]:
    """``(chunk ids, (len(part), dim) float32 vectors)`` of ``part`` (``(id, text)`` rows)."""
    return [i for i, _ in part], np.asarray(encoder.encode_documents([t for _, t in part]), dtype=np.float32)


def _checked(result):
    from kelp.scale import Failed

    if isinstance(result, Failed):
        raise SearchIndexError(f"embedding failed: {result.reason}")
    return result


class _RemoteEncoder:
    """A Ray worker's encoder, loaded once by name and checkpoint."""

    def __init__(self, name: str, checkpoint: str | None, cpus: int) -> None:
        from kelp.retrieval.encoders import load_encoder

        self.encoder = load_encoder(name, checkpoint)

    def encode(self, part: list) -> tuple[list[int], np.ndarray]:
        return _encode_part(self.encoder, part)


def bm25_tokens(path: str, name: str, text: str) -> list[str]:
    """The BM25 terms of a chunk: code tokens of its path, qualified name and text."""
    from kelp.retrieval.code_tokens import code_tokens

    return code_tokens(f"{path} {name}\n{text}")


def export(db: sqlite3.Connection, directory: Path, encoders: list[str]) -> int:
    """Rebuild ``bm25/`` and every ``vectors-<encoder>.npy`` from the database; returns the
    number of chunks."""
    import bm25s

    rows = db.execute("SELECT id, path, name, text FROM chunks ORDER BY id").fetchall()
    corpus = [bm25_tokens(p, n, t) or ["<empty>"] for _, p, n, t in rows]
    bm25 = bm25s.BM25()
    if corpus:
        bm25.index(corpus, show_progress=False)
        bm25.save(str(directory / "bm25"), show_progress=False)
    for name in encoders:
        blobs = dict(db.execute("SELECT chunk, vector FROM vectors WHERE encoder = ?", (name,)))
        matrix = np.stack([np.frombuffer(blobs[i], dtype=np.float32) for i, *_ in rows]) if rows else np.zeros((0, 1), np.float32)
        np.save(directory / f"vectors-{name}.npy", matrix, allow_pickle=False)
    return len(rows)


def build_index(root: Path, out: Path, encoders: list, *, progress: bool = True,
                exclude: tuple[str, ...] | list[str] = (), ray: str | None = None) -> BuildStats:
    """Index the files under ``root`` into ``out`` (created, or updated incrementally) with the
    dense ``encoders`` (objects with ``name``, ``dim`` and ``encode_documents``, see
    :mod:`kelp.retrieval.encoders`), leaving out the files that the glob patterns ``exclude``
    match (none by default; :func:`~kelp.retrieval.chunking.is_excluded`; ``kelp index`` passes
    :data:`~kelp.retrieval.chunking.DEFAULT_EXCLUDES`, the tests, unless ``--include-tests``).
    Shows a progress bar on stderr unless ``progress`` is False.
    Raises :class:`SearchIndexError` when ``root`` is not a directory, ``out`` holds an index of
    another format or of other encoders (rebuild into a new directory).

    ``ray``: ``"local"`` or a Ray cluster address: the chunks are embedded as Ray tasks
    (:func:`embed_missing`); raises :class:`kelp.scale.ScaleError` (before ``out`` is made) when
    Ray is missing or unreachable."""
    from kelp.scale import connect as connect_ray

    root = Path(root)
    if not root.is_dir():
        raise SearchIndexError(f"{root} is not a directory")
    with connect_ray(ray):
        return _build_index(root, Path(out), encoders, progress=progress, exclude=exclude, ray=bool(ray))


def _build_index(root: Path, out: Path, encoders: list, *, progress: bool, exclude, ray: bool) -> BuildStats:
    import time

    from kelp.progress import progress_bar

    started = time.monotonic()
    out = Path(out)
    db = connect(out)
    try:
        _check_format(db, out)
        names = [e.name for e in encoders]
        previous = _meta(db).get("encoders")
        if previous is not None and json.loads(previous) != names:
            raise SearchIndexError(f"{out} was built with encoders {json.loads(previous)}, not {names}; "
                                   "use another --out or the same encoders")
        stats = BuildStats()
        with progress_bar(enabled=progress) as bar:
            job = bar.add_task("reading files", total=None)
            sync_files(db, root, stats, progress=lambda: bar.advance(job), exclude=exclude)
            db.commit()
            for encoder in encoders:
                missing = db.execute("SELECT COUNT(*) FROM chunks WHERE id NOT IN "
                                     "(SELECT chunk FROM vectors WHERE encoder = ?)", (encoder.name,)).fetchone()[0]
                job = bar.add_task(f"embedding ({encoder.name})", total=missing)
                stats.embedded[encoder.name] = embed_missing(db, encoder, progress=lambda n: bar.advance(job, n),
                                                             ray=ray)
        db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                       [("format", INDEX_FORMAT), ("encoders", json.dumps(names)), ("root", str(root.resolve()))])
        db.commit()
        stats.chunks = export(db, out, names)
    finally:
        db.close()
    stats.seconds = round(time.monotonic() - started, 3)
    return stats


def build_from_chunks(chunks: list[Chunk], out: Path, encoders: list, *, progress: bool = False,
                      ray: bool = False) -> BuildStats:
    """An index of exactly ``chunks`` (for evaluations and benchmarks: no files are read) in the
    new directory ``out``; ``ray``: embed as Ray tasks (inside :func:`kelp.scale.connect`, see
    :func:`embed_missing`). Raises :class:`SearchIndexError` when ``out`` already holds an index."""
    import time

    started = time.monotonic()
    out = Path(out)
    if (out / _DB).exists():
        raise SearchIndexError(f"{out} already holds an index")
    from kelp.progress import progress_bar

    db = connect(out)
    try:
        stats = BuildStats(chunks=insert_chunks(db, chunks))
        with progress_bar(enabled=progress) as bar:
            for encoder in encoders:
                job = bar.add_task(f"embedding ({encoder.name})", total=stats.chunks)
                stats.embedded[encoder.name] = embed_missing(db, encoder, progress=lambda n: bar.advance(job, n),
                                                             ray=ray)
        db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                       [("format", INDEX_FORMAT), ("encoders", json.dumps([e.name for e in encoders]))])
        db.commit()
        export(db, out, [e.name for e in encoders])
    finally:
        db.close()
    stats.seconds = round(time.monotonic() - started, 3)
    return stats


def read_index(directory: Path) -> tuple[list[StoredChunk], dict[str, str]]:
    """``(chunks in id order, meta)`` of an index directory. Raises :class:`SearchIndexError`
    when it is not a kelp index."""
    directory = Path(directory)
    if not (directory / _DB).is_file():
        raise SearchIndexError(f"{directory} is not a kelp index (no {_DB}); build one with `kelp index PATH --out DIR`")
    db = sqlite3.connect(f"file:{directory / _DB}?mode=ro", uri=True)
    try:
        meta = _meta(db)
        if meta.get("format") != INDEX_FORMAT:
            raise SearchIndexError(f"{directory} holds an index of format {meta.get('format')!r}; "
                                   f"this kelp reads {INDEX_FORMAT!r}")
        rows = db.execute("SELECT id, path, kind, name, language, start_line, end_line, text, content_hash,"
                          " explanation, tier FROM chunks ORDER BY id").fetchall()
    except sqlite3.DatabaseError as exc:
        raise SearchIndexError(f"{directory / _DB} is not a readable index: {exc}") from None
    finally:
        db.close()
    return [StoredChunk(*row) for row in rows], meta


__all__ = ["INDEX_DIRNAME", "INDEX_FORMAT", "BuildStats", "SearchIndexError", "StoredChunk", "bm25_tokens",
           "build_from_chunks", "build_index", "connect", "default_index_dir", "embed_missing", "export",
           "find_index", "find_repo_root", "insert_chunks", "read_index", "sync_files"]
