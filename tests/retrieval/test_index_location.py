"""Where `kelp index` puts its index and where `kelp search` finds it, and which files
`kelp index` leaves out: the real CLI run as a subprocess on small temporary trees (BM25 only,
``--encoders none``, to stay fast)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kelp.retrieval.chunking import DEFAULT_EXCLUDES, exclude_patterns, is_excluded, iter_files
from kelp.retrieval.index import INDEX_DIRNAME, find_index, find_repo_root, read_index

SOURCE = {
    "src/pkg/text.py": 'def word_count(text):\n    """Count the words of a text."""\n    return len(text.split())\n',
    "src/pkg/gen_tables.py": 'def generated_lookup_table():\n    """Generated; do not edit."""\n    return {}\n',
    "src/conftest.py": "def pytest_configure(config):\n    pass\n",
    "tests/test_x.py": "def test_word_count():\n    assert True\n",
    "README.md": "# Demo\n\nCounts words.\n",
}


def kelp(*args, cwd):
    """Run the real CLI (`python -m kelp.cli ARGS`) in ``cwd``; the completed process."""
    return subprocess.run([sys.executable, "-m", "kelp.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def make_tree(root: Path, files=SOURCE) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def git_repo(tmp_path):
    """A temporary git repository (``git init``) holding :data:`SOURCE`."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True, capture_output=True)
    return make_tree(repo)


def indexed_paths(index_dir: Path) -> set[str]:
    chunks, _ = read_index(index_dir)
    return {c.path for c in chunks}


def test_index_of_a_subdirectory_goes_to_the_repository_root_and_search_finds_it_from_below(git_repo):
    built = kelp("index", "src", "--encoders", "none", cwd=git_repo)
    assert built.returncode == 0, built.stderr
    index_dir = git_repo.resolve() / INDEX_DIRNAME
    assert (index_dir / "index.sqlite").is_file()
    assert not (git_repo / "src" / INDEX_DIRNAME).exists()
    assert f"index written to {index_dir} (" in built.stderr
    summary = json.loads(built.stdout)  # stdout is only the JSON summary
    assert Path(summary["index"]) == index_dir and summary["chunks"] >= 1

    below = git_repo / "src" / "pkg"
    found = kelp("search", "count the words of a text", "--retriever", "bm25", "--json", "-k", "3", cwd=below)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert hits and hits[0]["name"] == "word_count" and hits[0]["path"] == "pkg/text.py"


def test_index_out_overrides_the_location(git_repo, tmp_path):
    built = kelp("index", "src", "--encoders", "none", "--out", str(tmp_path / "elsewhere"), cwd=git_repo)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "elsewhere" / "index.sqlite").is_file() and not (git_repo / INDEX_DIRNAME).exists()
    assert json.loads(built.stdout)["index"] == str((tmp_path / "elsewhere").absolute())


def test_search_without_any_index_above_exits_2_with_one_clear_line(tmp_path):
    here = tmp_path / "nowhere" / "deep"
    here.mkdir(parents=True)
    if any((d / INDEX_DIRNAME).is_dir() for d in here.parents):
        pytest.skip(f"a {INDEX_DIRNAME} exists above the temporary directory")
    found = kelp("search", "anything", cwd=here)
    assert found.returncode == 2
    assert found.stdout == ""
    message = found.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert message == (f"kelp: error: no {INDEX_DIRNAME} found in {here.resolve()} or any parent; "
                       "run `kelp index` first or give --index")


def test_tests_are_excluded_by_default_and_exclude_adds_patterns(git_repo, tmp_path):
    default = kelp("index", ".", "--encoders", "none", "--out", str(tmp_path / "default"), cwd=git_repo)
    assert default.returncode == 0, default.stderr
    paths = indexed_paths(tmp_path / "default")
    assert "src/pkg/text.py" in paths and "src/pkg/gen_tables.py" in paths and "README.md" in paths
    assert "tests/test_x.py" not in paths and "src/conftest.py" not in paths

    everything = kelp("index", ".", "--encoders", "none", "--include-tests", "--out", str(tmp_path / "all"),
                      cwd=git_repo)
    assert everything.returncode == 0, everything.stderr
    assert {"tests/test_x.py", "src/conftest.py", "src/pkg/text.py"} <= indexed_paths(tmp_path / "all")

    trimmed = kelp("index", ".", "--encoders", "none", "--exclude", "gen_*.py", "--out", str(tmp_path / "trim"),
                   cwd=git_repo)
    assert trimmed.returncode == 0, trimmed.stderr
    paths = indexed_paths(tmp_path / "trim")
    assert "src/pkg/gen_tables.py" not in paths and "src/pkg/text.py" in paths
    assert "tests/test_x.py" not in paths  # --exclude adds to the default patterns

    # a rerun into the same index with other patterns drops what is now excluded
    rerun = kelp("index", ".", "--encoders", "none", "--include-tests", "--exclude", "README.md",
                 "--out", str(tmp_path / "all"), cwd=git_repo)
    assert rerun.returncode == 0, rerun.stderr
    paths = indexed_paths(tmp_path / "all")
    assert "README.md" not in paths and "tests/test_x.py" in paths


def test_index_help_documents_the_default_excludes():
    shown = kelp("index", "--help", cwd=Path.cwd())
    assert shown.returncode == 0
    for pattern in DEFAULT_EXCLUDES:
        assert pattern in shown.stdout
    assert "--include-tests" in shown.stdout and "--exclude" in shown.stdout


@pytest.mark.parametrize("rel, is_dir, patterns, expected", [
    ("tests/test_x.py", False, DEFAULT_EXCLUDES, True),
    ("pkg/tests/helpers.py", False, DEFAULT_EXCLUDES, True),
    ("tests", True, DEFAULT_EXCLUDES, True),
    ("src/conftest.py", False, DEFAULT_EXCLUDES, True),
    ("src/pkg/parser_test.py", False, DEFAULT_EXCLUDES, True),
    ("src/pkg/test_utils.py", False, DEFAULT_EXCLUDES, True),
    ("src/pkg/testing.py", False, DEFAULT_EXCLUDES, False),
    ("src/pkg/attest.py", False, DEFAULT_EXCLUDES, False),
    ("src/tests.py", False, DEFAULT_EXCLUDES, False),  # `tests/` names directories only
    ("src/pkg/gen_x.py", False, ["gen_*.py"], True),
    ("gen/x.py", False, ["gen"], True),  # no slash: any component
    ("src/gen", True, ["src/gen/"], True),
    ("src/gen/deep/x.py", False, ["src/gen/"], True),
    ("other/src/gen/x.py", False, ["src/gen/"], False),
    ("src/x_pb2.py", False, ["src/*_pb2.py"], True),
    ("lib/src/x_pb2.py", False, ["src/*_pb2.py"], False),
    ("src/x_pb2.py", False, ["./src/*_pb2.py"], True),
    ("src/pkg/text.py", False, [], False),
])
def test_is_excluded(rel, is_dir, patterns, expected):
    assert is_excluded(rel, patterns, is_dir=is_dir) is expected


def test_exclude_patterns_and_iter_files(tmp_path):
    assert exclude_patterns() == list(DEFAULT_EXCLUDES)
    assert exclude_patterns(["gen_*.py", "tests/"], include_tests=True) == ["gen_*.py", "tests/"]
    assert exclude_patterns(["tests/"]) == list(DEFAULT_EXCLUDES)
    root = make_tree(tmp_path / "tree")
    rel = {p.relative_to(root).as_posix() for p in iter_files(root, exclude=exclude_patterns(["gen_*.py"]))}
    assert rel == {"README.md", "src/pkg/text.py"}
    assert len(list(iter_files(root))) == len(SOURCE)  # the library excludes nothing unless told


def test_find_repo_root_and_find_index(tmp_path):
    plain = tmp_path / "plain" / "a"
    plain.mkdir(parents=True)
    if not any((d / ".git").exists() for d in plain.parents):
        assert find_repo_root(plain) == plain.absolute()
    worktree = tmp_path / "wt"
    (worktree / "sub").mkdir(parents=True)
    (worktree / ".git").write_text("gitdir: /elsewhere\n")  # worktrees and submodules have a .git file
    assert find_repo_root(worktree / "sub") == worktree.absolute()
    (worktree / INDEX_DIRNAME).mkdir()
    assert find_index(worktree / "sub") == worktree.absolute() / INDEX_DIRNAME
