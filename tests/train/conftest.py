"""Fixtures of the trainer tests: a small corpus of MBPP train functions on disk."""

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
