"""A real index (SQLite + bm25s + dense vectors from a real, tiny kelp code encoder) over a small
repository built on disk, and the searches run on it."""

import json
import sqlite3
from dataclasses import asdict

import numpy as np
import pytest
from typer.testing import CliRunner

from kelp.cli import app
from kelp.models.code_encoder import CodeEncoder, CodeEncoderConfig, save_code_encoder, train_tokenizer
from kelp.retrieval.chunking import chunk_tree
from kelp.retrieval.encoders import OwnEncoder
from kelp.retrieval.index import SearchIndexError, build_index, read_index
from kelp.retrieval.search import CodeSearcher

FILES = {
    "net/retry.py": '''import time


def backoff_delay(attempt, base=0.5, cap=30.0):
    """Compute the exponential backoff delay before the next retry."""
    return min(cap, base * 2 ** attempt)


class Client:
    """An HTTP client that retries failed requests."""

    def get(self, url):
        # fetch a URL, retrying with backoff
        for attempt in range(5):
            time.sleep(backoff_delay(attempt))
''',
    "util/text.py": '''def slugify(title):
    return "-".join(title.lower().split())


def word_count(text):
    """Count the words of a text."""
    return len(text.split())
''',
    "README.md": "# Demo\n\nA tiny repository.\n\n## Retry\n\nRequests are retried with exponential backoff.\n",
    "notes.txt": "plain notes\nabout nothing\n",
}


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    texts = list(FILES.values()) * 3
    tokenizer = train_tokenizer(texts, vocab_size=400)
    model = CodeEncoder(CodeEncoderConfig(vocab_size=tokenizer.get_vocab_size(), hidden=32, layers=1, heads=2,
                                          dim=16, max_length=64), tokenizer)
    path = tmp_path_factory.mktemp("enc") / "encoder"
    save_code_encoder(path, model, {"step": 0})
    return path


def make_repo(root):
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_index_round_trips_every_chunk_field_and_explanation(tmp_path, encoder_dir):
    repo = make_repo(tmp_path / "repo")
    stats = build_index(repo, tmp_path / "idx", [OwnEncoder(encoder_dir)], progress=False)
    expected = [c for _, chunks in chunk_tree(repo) for c in chunks]
    stored, meta = read_index(tmp_path / "idx")
    assert stats.chunks == len(stored) == len(expected) and stats.embedded == {"ours": len(expected)}
    for want, got in zip(expected, stored):
        assert {k: v for k, v in asdict(got).items() if k in asdict(want)} == asdict(want)
        assert got.content_hash == want.content_hash
        assert got.explanation.strip() and got.tier in ("docstring", "comment", "synthesized", "heading", "text")
    tiers = {g.name: g.tier for g in stored}
    assert tiers["backoff_delay"] == "docstring" and tiers["Client.get"] == "comment"
    assert tiers["slugify"] == "synthesized"
    vectors = np.load(tmp_path / "idx" / "vectors-ours.npy")
    assert vectors.shape == (len(stored), 16) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert json.loads(meta["encoders"]) == ["ours"]


def test_reindexing_touches_only_changed_files(tmp_path, encoder_dir):
    repo = make_repo(tmp_path / "repo")
    encoders = [OwnEncoder(encoder_dir)]
    build_index(repo, tmp_path / "idx", encoders, progress=False)
    before = {c.name: c.id for c in read_index(tmp_path / "idx")[0]}
    again = build_index(repo, tmp_path / "idx", encoders, progress=False)
    assert (again.changed, again.embedded["ours"], again.removed) == (0, 0, 0)
    (repo / "util" / "text.py").write_text(FILES["util/text.py"] + "\n\ndef shout(s):\n    return s.upper()\n")
    (repo / "notes.txt").unlink()
    third = build_index(repo, tmp_path / "idx", encoders, progress=False)
    assert (third.changed, third.removed, third.embedded["ours"]) == (1, 1, 3)
    after = {c.name: c.id for c in read_index(tmp_path / "idx")[0]}
    assert after["backoff_delay"] == before["backoff_delay"] and "shout" in after and "lines 1-2" not in after
    db = sqlite3.connect(tmp_path / "idx" / "index.sqlite")
    assert db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == len(after)


def test_search_is_deterministic_and_every_hit_is_explained(tmp_path, encoder_dir):
    repo = make_repo(tmp_path / "repo")
    build_index(repo, tmp_path / "idx", [OwnEncoder(encoder_dir)], progress=False)
    searcher = CodeSearcher(tmp_path / "idx", {"ours": OwnEncoder(encoder_dir)})
    bm25 = searcher.search("exponential backoff delay", k=3, retriever="bm25")
    assert bm25[0].chunk.name == "backoff_delay"
    for retriever in ("bm25", "ours", "dense", "hybrid"):
        first = searcher.search("retry backoff", k=5, retriever=retriever)
        second = CodeSearcher(tmp_path / "idx", {"ours": OwnEncoder(encoder_dir)}).search("retry backoff", k=5,
                                                                                         retriever=retriever)
        assert [(h.chunk.id, h.score) for h in first] == [(h.chunk.id, h.score) for h in second]
        assert [h.rank for h in first] == list(range(1, len(first) + 1))
        assert all(h.chunk.explanation for h in first)
    with pytest.raises(SearchIndexError, match="unknown retriever"):
        searcher.search("x", retriever="tfidf")
    with pytest.raises(SearchIndexError, match="empty"):
        searcher.search("  ")
    with pytest.raises(SearchIndexError, match="no 'minilm' vectors"):
        searcher.search("x", retriever="minilm")


def test_index_errors(tmp_path, encoder_dir):
    with pytest.raises(SearchIndexError, match="not a kelp index"):
        CodeSearcher(tmp_path)
    with pytest.raises(SearchIndexError, match="not a directory"):
        build_index(tmp_path / "missing", tmp_path / "idx", [], progress=False)
    repo = make_repo(tmp_path / "repo")
    build_index(repo, tmp_path / "idx", [], progress=False)
    with pytest.raises(SearchIndexError, match="encoders"):
        build_index(repo, tmp_path / "idx", [OwnEncoder(encoder_dir)], progress=False)


def test_cli_index_then_search(tmp_path):
    repo = make_repo(tmp_path / "repo")
    runner = CliRunner()
    built = runner.invoke(app, ["index", str(repo), "--encoders", "none"])
    assert built.exit_code == 0, built.output
    found = runner.invoke(app, ["search", "word count of a text", "--index", str(repo / ".kelp-index"),
                                "--retriever", "bm25", "--json", "-k", "2"])
    assert found.exit_code == 0, found.output
    hits = json.loads(found.output)
    assert hits[0]["name"] == "word_count" and hits[0]["path"] == "util/text.py" and hits[0]["explanation"]
    shown = runner.invoke(app, ["search", "slugify a title", "--index", str(repo / ".kelp-index"), "--retriever", "bm25"])
    assert shown.exit_code == 0 and "util/text.py:1" in shown.output


def test_index_and_search_this_repository_with_the_bundled_encoder(tmp_path):
    """`kelp index .` then `kelp search` on kelp's own source, as from a fresh clone."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    runner = CliRunner()
    built = runner.invoke(app, ["index", str(repo / "src"), "--out", str(tmp_path / "idx")])
    assert built.exit_code == 0, built.output
    stats = json.loads(built.stdout)  # stdout carries only the JSON summary; progress goes to stderr
    assert stats["chunks"] > 1000 and stats["embedded"]["ours"] == stats["chunks"]
    found = runner.invoke(app, ["search", "bootstrap confidence interval", "--index", str(tmp_path / "idx"), "--json"])
    assert found.exit_code == 0, found.output
    hits = json.loads(found.output)
    assert len(hits) == 10 and all(h["explanation"] for h in hits)
    assert any(h["name"] == "bootstrap_ci" for h in hits[:3])


def test_an_index_embedded_as_ray_tasks_holds_the_serial_vectors(tmp_path, encoder_dir):
    pytest.importorskip("ray")
    repo = make_repo(tmp_path / "repo")
    build_index(repo, tmp_path / "serial", [OwnEncoder(encoder_dir)], progress=False)
    stats = build_index(repo, tmp_path / "ray", [OwnEncoder(encoder_dir)], progress=False, ray="local")
    assert stats.embedded == {"ours": stats.chunks} and stats.chunks > 0
    serial = np.load(tmp_path / "serial" / "vectors-ours.npy")
    remote = np.load(tmp_path / "ray" / "vectors-ours.npy")
    assert serial.shape == remote.shape and np.allclose(serial, remote, atol=1e-5)
    assert [c.text for c in read_index(tmp_path / "serial")[0]] == [c.text for c in read_index(tmp_path / "ray")[0]]
