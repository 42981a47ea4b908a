"""kelp eval search on the real held-out standard-library modules (BM25 only: no model needed)."""

import ast
import json

import numpy as np
import pytest

from kelp.bench.search_eval import (SearchEvalConfig, SearchEvalError, eval_corpus, fit_fusion, ranks_of,
                                    run_search_eval)
from kelp.retrieval.search import fuse
from kelp.program.docstrings import dedent_code


@pytest.fixture(scope="module")
def corpus():
    return eval_corpus(())


def test_documents_have_no_docstrings_and_queries_are_unique(corpus):
    documents, queries = corpus
    assert len(documents) > 500 and len(queries) > 200
    assert all(d.path.startswith("stdlib/") for d in documents)
    for doc in documents[:300]:
        node = ast.parse(dedent_code(doc.text)).body[0]
        assert ast.get_docstring(node) is None
    texts = [q for q, _ in queries]
    assert len(set(texts)) == len(texts) and all(len(q.split()) >= 3 for q in texts)
    for query, gold in queries[:100]:
        assert query not in documents[gold].text


def test_bm25_eval_summary_split_and_rerun(tmp_path):
    config = SearchEvalConfig(retrievers=("bm25",), n=30, packages=())
    summary = run_search_eval(config, tmp_path, quiet=True)
    bm25 = summary["retrievers"]["bm25"]
    assert (summary["queries"], summary["dev_queries"], summary["test_queries"]) == (30, 9, 21)
    assert 0.0 < bm25["mrr10"] <= 1.0 and bm25["recall1"] <= bm25["recall10"]
    assert bm25["mrr10_ci95"][0] <= bm25["mrr10"] <= bm25["mrr10_ci95"][1]
    assert bm25["above_unrelated"] > 0.5
    lines = (tmp_path / "queries.jsonl").read_text().splitlines()
    assert len(lines) == 21 and "| bm25 |" in (tmp_path / "table.md").read_text()
    again = run_search_eval(config, tmp_path, quiet=True)
    assert again["retrievers"] == summary["retrievers"]
    assert (tmp_path / "queries.jsonl").read_text().splitlines() == lines
    with pytest.raises(SearchEvalError, match="other settings"):
        run_search_eval(SearchEvalConfig(retrievers=("bm25",), n=31, packages=()), tmp_path, quiet=True)
    with pytest.raises(SearchEvalError, match="unknown retrievers"):
        SearchEvalConfig(retrievers=("tfidf",)).check()
    first = json.loads(lines[0])
    assert set(first["bm25"]) == {"rank", "above_unrelated"}


def test_ranks_follow_the_search_tie_rule_and_fusion_fits_the_better_retriever():
    scores = np.array([[0.5, 0.9, 0.5], [0.1, 0.2, 0.3]], dtype=np.float32)
    assert ranks_of(scores, np.array([2, 2])).tolist() == [3, 1]
    assert ranks_of(scores, np.array([0, 0])).tolist() == [2, 3]
    gold = np.array([0, 1, 2])
    good = np.eye(3, dtype=np.float32)
    bad = np.ones((3, 3), dtype=np.float32) - np.eye(3, dtype=np.float32)
    weights, mrr = fit_fusion({"bm25": bad, "ours": good}, gold)
    assert weights["ours"] > weights["bm25"] and mrr == 1.0
    assert abs(sum(weights.values()) - 1.0) < 1e-9
    fused = fuse({"bm25": np.array([2.0, 4.0]), "ours": np.array([0.5, 0.0])}, {"bm25": 0.5, "ours": 0.5})
    assert np.allclose(fused, [0.5, 0.5])
