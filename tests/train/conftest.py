"""Fixtures of the trainer tests: a small corpus of MBPP train functions on disk, and search data
from real searches."""

import json
from dataclasses import asdict

import pytest

from kelp.datasets.loaders import load_mbpp
from kelp.train.corpus import CorpusFunction


@pytest.fixture(scope="session")
def mbpp_corpus(tmp_path_factory):
    """``corpus(n)``: a ``functions.jsonl`` of the first ``n`` MBPP train functions (no
    docstrings), as `kelp train corpus` writes it; one file per ``n``."""
    made = {}

    def corpus(n: int):
        if n not in made:
            path = tmp_path_factory.mktemp(f"corpus{n}") / "functions.jsonl"
            with path.open("w") as sink:
                for p in load_mbpp("train")[:n]:
                    sink.write(json.dumps(asdict(CorpusFunction(f"mbpp:{p.task_id}", "f", p.code, ""))) + "\n")
            made[n] = path
        return made[n]

    return corpus


@pytest.fixture(scope="session")
def search_data(tmp_path_factory):
    """A search-data folder of real searches: 8 MBPP validation problems, 2 seeds, budget 16."""
    from kelp.train.search_data import SearchDataConfig, generate_search_data

    out = tmp_path_factory.mktemp("search-data")
    config = SearchDataConfig(split="validation", n=8, steps=(1,), seeds=(0, 1), budget=16, seconds=20.0)
    generate_search_data(config, out, workers=2, quiet=True)
    return out
