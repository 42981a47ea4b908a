"""A real (tiny) code bi-encoder trained contrastively on real standard-library functions."""

import ast
import json
import sysconfig
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from kelp.datasets.code_search import held_out
from kelp.models.code_encoder import EncoderCheckpointError, load_code_encoder
from kelp.train.corpus import CorpusFunction
from kelp.train.encoder_trainer import (EncoderTrainConfig, EncoderTrainError, info_nce, train_code_encoder,
                                        training_pairs)

TINY = {"hidden": 32, "layers": 1, "heads": 2, "dim": 16}
STDLIB = Path(sysconfig.get_paths()["stdlib"])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "functions.jsonl"
    with path.open("w") as sink:
        for name in ("textwrap.py", "shlex.py", "fnmatch.py", "calendar.py", "string.py", "glob.py", "random.py"):
            source = (STDLIB / name).read_text()
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef):
                    code = ast.get_source_segment(source, node, padded=False)
                    fn = CorpusFunction(f"stdlib-3.11:{name}:{node.lineno}", node.name, code, ast.get_docstring(node) or "")
                    sink.write(json.dumps(asdict(fn)) + "\n")
    return path


def _config(corpus, **kw):
    base = dict(corpus=str(corpus), steps=4, batch=8, eval_every=2, eval_pairs=10, warmup=1, vocab_size=400,
                query_length=16, code_length=48, model=TINY)
    return EncoderTrainConfig(**{**base, **kw})


def test_pairs_leave_out_held_out_modules_and_docstrings(corpus):
    assert held_out("stdlib-3.11:calendar.py:10") and held_out("stdlib-3.11:email/utils.py:3")
    assert not held_out("stdlib-3.11:textwrap.py:10") and not held_out("torch-2.13:calendar.py:1")
    pairs = training_pairs(corpus)
    assert len(pairs) > 40
    for query, code in pairs:
        assert len(query.split()) >= 3 and query not in code
        ast.parse(code)
    originals = [json.loads(line) for line in corpus.read_text().splitlines()]
    calendar_docs = {r["docstring"].split(".")[0] for r in originals if "calendar" in r["origin"] and r["docstring"]}
    assert not any(q.rstrip(".") in calendar_docs for q, _ in pairs)


def test_info_nce_prefers_matched_pairs():
    x = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    assert info_nce(x, x, 0.05) < info_nce(x, x.roll(1, 0), 0.05)


@pytest.fixture
def one_thread():
    """Bit-for-bit comparisons need one thread (matrix products sum in a fixed order)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_training_checkpoints_and_resumes_exactly(corpus, tmp_path, one_thread):
    full = train_code_encoder(_config(corpus), tmp_path / "full", progress=False, log_every=1)
    assert full["step"] == 4 and 0.0 <= full["mrr10"] <= 1.0 and full["n"] == 10
    train_code_encoder(_config(corpus), tmp_path / "cut", until=2, progress=False, log_every=1)
    resumed = train_code_encoder(_config(corpus), tmp_path / "cut", progress=False, log_every=1)
    assert resumed == full
    model = load_code_encoder(tmp_path / "full" / "checkpoint")
    vectors = model.embed(["parse a shell line", "def split(s):\n    return s.split()"])
    assert vectors.shape == (2, 16)
    assert torch.allclose(vectors.norm(dim=-1), torch.ones(2), atol=1e-5)
    with pytest.raises(EncoderTrainError, match="other settings"):
        train_code_encoder(_config(corpus, lr=1e-3), tmp_path / "full", progress=False)


def test_bad_settings_and_missing_checkpoint(corpus, tmp_path):
    with pytest.raises(EncoderTrainError):
        train_code_encoder(_config(corpus, batch=1), tmp_path / "a", progress=False)
    with pytest.raises(EncoderTrainError, match="training pairs"):
        train_code_encoder(_config(corpus, eval_pairs=5000), tmp_path / "b", progress=False)
    with pytest.raises(EncoderCheckpointError, match="missing"):
        load_code_encoder(tmp_path)
