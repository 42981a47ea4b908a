import csv
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from kelp.structured.workflow_corpus import (
    SAMPLE_DIR,
    SCHEMA_PATH,
    SCHEMASTORE_TESTS_DIR,
    STARTER_REPO,
    CorpusReport,
    WorkflowCorpusError,
    WorkflowDoc,
    is_valid,
    load_corpus,
    load_schema,
    split_by_repository,
    validator,
)
from kelp.structured.workflow_yaml import dump_workflow, load_workflow

SHARED = Path("/work/shared/data")
EXTRA = SHARED / "workflows-extra"
STAGED = SHARED / "workflows"
needs_extra = pytest.mark.skipif(not EXTRA.exists(), reason="workflows-extra is only on dev machines")
needs_staged = pytest.mark.skipif(not STAGED.exists(), reason="the staged workflows folder is only on dev machines")

VALID = "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make\n"
INVALID = "on: push\njobs:\n  build:\n    steps:\n      - run: make\n"  # no runs-on


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- schema and its calibration ------------------------------------------------------------------


def test_bundled_schema_is_draft7():
    schema = load_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert SCHEMA_PATH.is_file()
    assert load_schema() is not schema  # a fresh dict each call
    assert isinstance(validator(schema), Draft7Validator)
    assert validator(schema) is validator(schema)


def test_schemastore_fixtures_calibrate_the_validator():
    positives = sorted((SCHEMASTORE_TESTS_DIR / "test").glob("*.yaml"))
    negatives = sorted((SCHEMASTORE_TESTS_DIR / "negative_test").glob("*.yaml"))
    assert (len(positives), len(negatives)) == (37, 20)
    assert [p.name for p in positives if not is_valid(load_workflow(p.read_text(encoding="utf-8")))] == []
    assert [p.name for p in negatives if is_valid(load_workflow(p.read_text(encoding="utf-8")))] == []


def test_is_valid_with_explicit_schema():
    schema = {"type": "object", "required": ["on"]}
    assert is_valid({"on": "push"}, schema) and not is_valid({}, schema)
    assert is_valid(load_workflow(VALID)) and not is_valid(load_workflow(INVALID))


def test_invalid_schema_is_an_error(tmp_path):
    with pytest.raises(WorkflowCorpusError, match="draft-07"):
        validator({"type": 12})
    with pytest.raises(WorkflowCorpusError, match="no schema file"):
        load_schema(tmp_path / "missing.json")
    with pytest.raises(WorkflowCorpusError, match="not JSON"):
        load_schema(write(tmp_path / "bad.json", "{"))


# -- bundled sample -----------------------------------------------------------------------------


def test_bundled_sample_loads_valid_and_round_trips():
    report = load_corpus(SAMPLE_DIR)
    assert report.layout == "starter-workflows"
    assert (len(report.docs), report.n_valid, report.skipped) == (12, 12, [])
    assert report.repos == [STARTER_REPO]
    paths = [d.path for d in report.docs]
    assert paths == sorted(paths) and "ci/python-package.yml" in paths and ".github/workflows/lint.yaml" in paths
    for doc in report.docs:
        assert list(doc.doc)[:2] == ["name", "on"]
        assert load_workflow(dump_workflow(doc.doc)) == doc.doc
    assert (SAMPLE_DIR / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


# -- layouts on folders written here ----------------------------------------------------------


def test_plain_folder(tmp_path):
    root = tmp_path / "my-repo"
    write(root / "ci.yml", VALID)
    write(root / "nested" / "lint.yaml", INVALID)
    write(root / "broken.yml", "on: push\n  x: [\n")
    write(root / "list.yml", "- a\n")
    write(root / "notes.txt", VALID)  # not a YAML suffix
    (root / "latin1.yml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    report = load_corpus(root)
    assert report.layout == "plain"
    assert [(d.repo, d.path, d.valid) for d in report.docs] == [
        ("my-repo", "ci.yml", True), ("my-repo", "nested/lint.yaml", False),
    ]
    assert [name for name, _ in report.skipped] == ["broken.yml", "latin1.yml", "list.yml"]
    reasons = dict(report.skipped)
    assert "line 2" in reasons["broken.yml"] and "unreadable" in reasons["latin1.yml"]
    assert "mapping" in reasons["list.yml"]


def test_manifest_layout(tmp_path):
    rows = [
        ("repo", "license_spdx", "commit", "original_path", "staged_path"),
        ("b-org/tool", "MIT", "abc", ".github/workflows/ci.yaml", "b-org__tool/ci.yml"),
        ("a-org/lib", "MIT", "def", ".github/workflows/test.yml", "a-org__lib/test.yml"),
        ("a-org/lib", "MIT", "def", ".github/workflows/gone.yml", "a-org__lib/gone.yml"),
    ]
    write(tmp_path / "MANIFEST.tsv", "".join("\t".join(row) + "\n" for row in rows))
    write(tmp_path / "b-org__tool" / "ci.yml", VALID)
    write(tmp_path / "a-org__lib" / "test.yml", INVALID)
    write(tmp_path / "a-org__lib" / "unlisted.yml", VALID)  # not in the manifest: ignored
    write(tmp_path / "a-org__lib" / "LICENSE", "MIT")
    report = load_corpus(tmp_path)
    assert report.layout == "repositories"
    assert [(d.repo, d.path, d.valid) for d in report.docs] == [
        ("a-org/lib", ".github/workflows/test.yml", False), ("b-org/tool", ".github/workflows/ci.yaml", True),
    ]
    assert report.skipped == [("a-org__lib/gone.yml", "missing file")]
    assert report.repos == ["a-org/lib", "b-org/tool"]


def test_starter_layout_by_name_and_inside_a_data_folder(tmp_path):
    starter = tmp_path / "workflows" / "starter-workflows"
    write(starter / "ci__a.yml", VALID)
    write(starter / "LICENSE", "MIT")
    fixtures = tmp_path / "workflows" / "schemastore-tests" / "negative_test"
    write(fixtures / "bad.yaml", INVALID)
    for root in (starter, tmp_path / "workflows"):
        report = load_corpus(root)
        assert report.layout == "starter-workflows"
        assert [(d.repo, d.path) for d in report.docs] == [(STARTER_REPO, "ci__a.yml")]  # no manifest: staged name


def test_corpus_errors(tmp_path):
    with pytest.raises(WorkflowCorpusError, match="not a directory"):
        load_corpus(tmp_path / "missing")
    with pytest.raises(WorkflowCorpusError, match="not a directory"):
        load_corpus(write(tmp_path / "file.yml", VALID))
    (tmp_path / "empty").mkdir()
    with pytest.raises(WorkflowCorpusError, match="no workflow file"):
        load_corpus(tmp_path / "empty")
    write(tmp_path / "broken" / "a.yml", "a: [\n")
    with pytest.raises(WorkflowCorpusError, match="1 files skipped"):
        load_corpus(tmp_path / "broken")
    write(tmp_path / "badmanifest" / "MANIFEST.tsv", "repo\tstaged_path\nx/y\t\n")
    with pytest.raises(WorkflowCorpusError, match="without repo or staged_path"):
        load_corpus(tmp_path / "badmanifest")


# -- split ------------------------------------------------------------------------------------


def fake_docs(sizes: dict[str, int]) -> list[WorkflowDoc]:
    return [WorkflowDoc(repo, f"w{i}.yml", {"on": "push"}, True) for repo, n in sizes.items() for i in range(n)]


def test_split_is_by_repository_and_deterministic():
    sizes = {f"org/r{i:02d}": 1 + i % 7 for i in range(40)} | {STARTER_REPO: 50}
    docs = fake_docs(sizes)
    train, held = split_by_repository(docs, 0.2, seed=3)
    assert len(train) + len(held) == len(docs)
    assert {d.repo for d in train}.isdisjoint({d.repo for d in held})
    assert STARTER_REPO not in {d.repo for d in held}
    share = len(held) / len(docs)
    assert 0.2 <= share < 0.2 + max(sizes.values()) / len(docs)
    assert split_by_repository(docs, 0.2, seed=3) == (train, held)
    assert split_by_repository(list(reversed(docs)), 0.2, seed=3)[1] == list(reversed(held))
    assert split_by_repository(docs, 0.2, seed=4) != (train, held)
    assert [d for d in docs if d in train] == train  # input order kept


def test_split_edge_cases():
    assert split_by_repository(fake_docs({"a/one": 5}), 0.5) == (fake_docs({"a/one": 5}), [])
    assert split_by_repository(fake_docs({STARTER_REPO: 5}), 0.5)[1] == []
    assert split_by_repository([], 0.5) == ([], [])
    for share in (0, 1, -0.1, 1.5, 0.0):
        with pytest.raises(WorkflowCorpusError, match=r"\(0, 1\)"):
            split_by_repository(fake_docs({"a/b": 1}), share)


# -- the real corpora (dev machines only) -------------------------------------------------------


@pytest.fixture(scope="module")
def extra() -> CorpusReport:
    # Parsed with the empty schema (everything valid): validating all 1,789 files with the real
    # schema takes about 5 s, so the test below validates every 4th document itself.
    return load_corpus(EXTRA, schema={})


@needs_extra
def test_workflows_extra_matches_its_validation_table(extra):
    with (EXTRA / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        manifest = list(csv.DictReader(handle, delimiter="\t"))
    with (EXTRA / "VALIDATION.tsv").open(encoding="utf-8") as handle:
        table = {row["staged_path"]: row for row in csv.DictReader(handle, delimiter="\t")}
    assert extra.layout == "repositories"
    assert len(extra.docs) == sum(row["parses"] == "yes" for row in table.values()) == len(manifest) == 1789
    assert extra.skipped == []
    assert len(extra.repos) == len({row["repo"] for row in manifest}) == 56
    expected = {(row["repo"], row["original_path"]): table[row["staged_path"]]["valid"] == "yes" for row in manifest}
    assert {(d.repo, d.path) for d in extra.docs} == expected.keys()
    subset = extra.docs[::4]
    got = {(d.repo, d.path): is_valid(d.doc) for d in subset}
    disagree = [key for key in got if got[key] != expected[key]]
    assert len(disagree) <= 3, disagree[:3]  # 0 with jsonschema 4.26 (and 0 of 1,789 on the whole set)
    rate, expected_rate = sum(got.values()) / len(got), sum(expected.values()) / len(expected)
    assert abs(rate - expected_rate) < 0.02  # 1,746 / 1,789 = 97.6 % in VALIDATION.tsv


@needs_extra
def test_workflows_extra_split(extra):
    train, held = split_by_repository(extra.docs)
    assert len(train) + len(held) == len(extra.docs)
    assert {d.repo for d in train}.isdisjoint({d.repo for d in held})
    assert 0.15 <= len(held) / len(extra.docs) < 0.22
    assert split_by_repository(extra.docs) == (train, held)


@needs_staged
def test_staged_workflows_folder_reads_starter_workflows():
    report = load_corpus(STAGED)
    # VALIDATION.md: 184 files, 182 parse, 177 valid; the 2 nowsecure templates do not parse.
    assert report.layout == "starter-workflows" and report.repos == [STARTER_REPO]
    assert (len(report.docs), report.n_valid) == (182, 177)
    assert [name for name, _ in report.skipped] == [
        "starter-workflows/code-scanning__nowsecure-mobile-sbom.yml", "starter-workflows/code-scanning__nowsecure.yml",
    ]
    assert all("unhashable key" in reason for _, reason in report.skipped)
    assert sorted(d.path for d in report.docs if not d.valid) == [
        "ci/python-package-conda.yml", "code-scanning/cloudrail.yml", "code-scanning/codeql.yml",
        "code-scanning/rubocop.yml", "code-scanning/zscaler-iac-scan.yml",
    ]
    for doc in report.docs:
        assert load_workflow(dump_workflow(doc.doc)) == doc.doc, doc.path
    assert split_by_repository(report.docs) == (report.docs, [])
