"""Train -> generate -> evaluate, end to end on a tiny corpus made of the bundled workflows.

Real parts only: a real (tiny) LM trained for a few steps, the real automaton masking its
samples, jsonschema judging the output. The model is untrained, so these tests check the
guarantees that do not depend on model quality: every sample is complete and valid.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kelp.bench.generate_eval import distinct_n, evaluate_generation, results_table
from kelp.models.structured_lm import load_structured_model
from kelp.structured.workflow_corpus import SAMPLE_DIR, SCHEMA_PATH, SCHEMASTORE_TESTS_DIR, load_schema, validator
from kelp.structured.workflow_yaml import load_workflow
from kelp.train.structured_trainer import StructuredTrainConfig, StructuredTrainError, train_structured

TINY = {"hidden": 32, "layers": 1, "heads": 4, "ffn": 64, "max_len": 1024}


def kelp(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "kelp.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Three fake repositories in the workflows-extra layout (MANIFEST.tsv with repo/staged_path);
    24 schema-valid documents and one the schema rejects."""
    root = tmp_path_factory.mktemp("corpus")
    files = (sorted(SAMPLE_DIR.glob("*.yml")) + sorted((SCHEMASTORE_TESTS_DIR / "test").glob("*.yaml"))[:12]
             + sorted((SCHEMASTORE_TESTS_DIR / "negative_test").glob("*.yaml"))[:1])
    rows = ["repo\tstaged_path\toriginal_path"]
    for i, f in enumerate(files):
        repo = ["a/one", "b/two", "c/three"][i % 3]
        staged = f"{repo.replace('/', '__')}/{f.name}"
        (root / staged).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, root / staged)
        rows.append(f"{repo}\t{staged}\t.github/workflows/{f.name}")
    (root / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    return root


def _config(corpus: Path, tokens: str, steps: int = 4) -> StructuredTrainConfig:
    return StructuredTrainConfig(schema=str(SCHEMA_PATH), corpus=[str(corpus)], tokens=tokens, steps=steps,
                                 batch_tokens=4096, eval_every=2, eval_docs=4, held_out_share=0.3,
                                 n_strings=256, n_subwords=300, size=dict(TINY))


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory) -> dict[str, Path]:
    out = {}
    for tokens in ("tct", "bpe"):
        run = tmp_path_factory.mktemp(f"run-{tokens}")
        metrics = train_structured(_config(corpus, tokens), run)
        assert metrics["step"] == 4 and metrics["held_out_nll_per_token"] > 0
        out[tokens] = run
    return out


def test_training_writes_a_resumable_run(corpus, tmp_path):
    config = _config(corpus, "tct", steps=4)
    train_structured(config, tmp_path, until=2)
    assert json.loads((tmp_path / "checkpoint" / "state.json").read_text())["step"] == 2
    metrics = train_structured(_config(corpus, "tct", steps=4), tmp_path)
    assert metrics["step"] == 4
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
             if "loss" in json.loads(line)]
    assert steps == [1, 2, 3, 4]
    data = json.loads((tmp_path / "data.json").read_text())
    assert data["held_out_docs"] > 0 and data["train_docs_used"] > 0
    assert (tmp_path / "curves.png").exists() and (tmp_path / "checkpoint" / "model.safetensors").exists()


def test_a_run_with_other_settings_is_refused(corpus, runs):
    with pytest.raises(StructuredTrainError, match="other settings"):
        train_structured(_config(corpus, "bpe"), runs["tct"])


def test_generate_cli_writes_valid_complete_workflows(runs, tmp_path):
    proc = kelp("generate", "--model", str(runs["tct"]), "-n", "4", "--max-len", "300", "--seed", "3",
                "--out", str(tmp_path / "gen"))
    assert proc.returncode == 0, proc.stderr
    check = validator(load_schema())
    files = sorted((tmp_path / "gen").glob("sample-*.yml"))
    assert len(files) == 4
    for f in files:
        assert check.is_valid(load_workflow(f.read_text()))


def test_generate_cli_continues_a_prefix(runs, tmp_path):
    prefix = tmp_path / "prefix.yml"
    prefix.write_text("name: Prefix test\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - uses: actions/checkout@v4\n")
    proc = kelp("generate", "--model", str(runs["tct"]), "--prefix", str(prefix), "-n", "2", "--max-len", "300",
                "--out", str(tmp_path / "gen"))
    assert proc.returncode == 0, proc.stderr
    for f in sorted((tmp_path / "gen").glob("sample-*.yml")):
        doc = load_workflow(f.read_text())
        assert validator(load_schema()).is_valid(doc)
        assert doc["name"] == "Prefix test" and doc["jobs"]["build"]["steps"][0]["uses"] == "actions/checkout@v4"


def test_generate_cli_errors_are_one_line(runs, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs: 3\n")
    for args, message in (
        (["--prefix", str(bad)], "schema rejects"),
        (["--model", str(tmp_path / "nothing")], "no trained model"),
        (["--model", str(runs["bpe"])], "baseline"),
        (["-n", "0"], "-n must be"),
    ):
        if args[0] != "--model":
            args = ["--model", str(runs["tct"]), *args]
        proc = kelp("generate", *args)
        said = " ".join(proc.stderr.split())
        assert proc.returncode == 2 and message in said and "Traceback" not in said, said


def test_train_cli_refuses_a_vocabulary_without_the_single_bytes(corpus, tmp_path):
    proc = kelp("train", "structured", "--corpus", str(corpus), "--out", str(tmp_path / "run"), "--subwords", "100")
    said = " ".join(proc.stderr.split())
    assert proc.returncode == 2 and "--subwords >= 256" in said and "Traceback" not in said, said


def test_evaluate_generation_reports_every_phase_and_resumes(runs, corpus, tmp_path):
    results = evaluate_generation(runs["tct"], runs["bpe"], [str(corpus)], tmp_path, n_samples=4, n_completions=4,
                                  n_baseline=2, batch_size=4, max_len=400)
    codec = results["codec"]
    assert codec["corpus_valid_round_trip"] == codec["corpus_valid_shuffled_round_trip"] == "24/24"
    assert codec["corpus_invalid_rejected"] == "1/1" and codec["failures"] == []
    assert (codec["fixtures_valid_round_trip"], codec["fixtures_invalid_rejected"]) == ("37/37", "20/20")
    for phase in ("scratch", "completions"):
        assert results[phase]["valid"] == 1.0 and results[phase]["complete"] == 1.0
    bpb = results["bits_per_byte"]
    assert bpb["docs"] > 0 and bpb["tct_masked"] <= bpb["tct_unmasked"] and bpb["bpe"] > 0
    assert 0.0 <= results["baseline_samples"]["valid"] <= 1.0
    assert len((tmp_path / "samples-scratch.jsonl").read_text().splitlines()) == 4
    table = results_table(results)
    assert "| scratch | 4 | 100.0% | 100.0% |" in table and "bits per byte over" in table and "codec: " in table
    again = evaluate_generation(runs["tct"], runs["bpe"], [str(corpus)], tmp_path, n_samples=4, n_completions=4,
                                n_baseline=2, batch_size=4, max_len=400)
    assert again["scratch"] == results["scratch"]


def test_load_structured_model_reads_both_kinds(runs):
    _, codec, settings = load_structured_model(runs["tct"])
    assert codec.vocab.size > 256 and settings["tokens"] == "tct"
    _, tok, _ = load_structured_model(runs["bpe"])
    assert tok.token_to_id("<eos>") == 2


def test_distinct_n():
    assert distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert distinct_n([], 2) == 0.0


def test_bundled_workflow_model_generates_valid_workflows(tmp_path):
    proc = kelp("generate", "workflow", "-n", "2", "--max-len", "400", "--seed", "1", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    check = validator(load_schema())
    files = sorted(tmp_path.glob("sample-*.yml"))
    assert len(files) == 2 and all(check.is_valid(load_workflow(f.read_text())) for f in files)
