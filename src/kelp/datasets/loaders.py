"""Benchmark loaders: MBPP, QuixBugs and user repair tasks in JSONL.

Every loader returns plain dataclasses; nothing here runs code. The data files are bundled in
``kelp/data`` (copied unchanged from their upstream repositories; see the SOURCE.md files there).
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

from kelp.errors import KelpError
from kelp.execute.suites import TestSuite

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MBPP_FILE = DATA_DIR / "mbpp" / "mbpp.jsonl"
QUIXBUGS_DIR = DATA_DIR / "quixbugs"
#: Hand-written human-style bugs in MBPP training problems, the development set for real-bug
#: behaviour (see ``kelp/data/humanbugs/README.md``); JSONL tasks with ``meta.category``.
HUMANBUGS_FILE = DATA_DIR / "humanbugs" / "humanbugs.jsonl"

#: Conventional MBPP split by task_id (Austin et al. 2021): 1-10 prompt, 11-510 test,
#: 511-600 validation, 601-974 train.
MBPP_SPLITS = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}

# QuixBugs programs with no test file of their own: their tests live in a *_test.py module
# beside the program, written for a different harness. They are skipped, as in QuixBugs' README.
_QUIXBUGS_HELPERS = {"node"}


class BenchmarkError(KelpError, ValueError):
    """A benchmark file is missing or malformed; the message names the file and the record."""


@dataclass(frozen=True)
class MbppProblem:
    """One MBPP task: natural-language ``text``, reference ``code`` and its assert tests."""

    task_id: int
    text: str
    code: str
    tests: tuple[str, ...]
    setup: str = ""

    @property
    def entry_point(self) -> str | None:
        """Name of the function the asserts call first (``None`` if none is found)."""
        return entry_point_of(self.code, self.tests)

    def suite(self) -> TestSuite:
        """The task's assert list as a sandbox test suite (one test per assert)."""
        return TestSuite.from_asserts(list(self.tests), setup=self.setup)


@dataclass(frozen=True)
class RepairTask:
    """A program that fails its tests, with the suite that judges it.

    ``fixed`` is the known-good source when there is one (used only for reporting whether a
    repair restores it, never by the search). ``meta`` carries provenance (e.g. the mutations
    that produced the bug).
    """

    task_id: str
    source: str
    suite: TestSuite
    fixed: str | None = None
    entry_point: str | None = None
    path: str | None = None
    meta: dict = field(default_factory=dict, compare=False)


def entry_point_of(code: str, tests: tuple[str, ...] | list[str]) -> str | None:
    """The first function defined in ``code`` that the tests call, else the first function defined."""
    try:
        defined = [n.name for n in ast.walk(ast.parse(code)) if isinstance(n, ast.FunctionDef)]
    except SyntaxError:
        return None
    for test in tests:
        try:
            calls = [n.func.id for n in ast.walk(ast.parse(test))
                     if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
        except SyntaxError:
            continue
        for name in calls:
            if name in defined:
                return name
    return defined[0] if defined else None


def load_mbpp(split: str = "test", path: Path | str = MBPP_FILE) -> list[MbppProblem]:
    """MBPP problems of one conventional split (``prompt``, ``test``, ``validation``, ``train``, ``all``).

    Raises :class:`BenchmarkError` for an unknown split or a malformed file.
    """
    if split != "all" and split not in MBPP_SPLITS:
        raise BenchmarkError(f"unknown MBPP split {split!r}; choose from {sorted(MBPP_SPLITS)} or 'all'")
    lo, hi = MBPP_SPLITS.get(split, (1, 10**9))
    problems = []
    for lineno, row in _read_jsonl(Path(path)):
        try:
            tid = int(row["task_id"])
            if lo <= tid <= hi:
                problems.append(MbppProblem(
                    task_id=tid, text=row["text"], code=row["code"].replace("\r\n", "\n"),
                    tests=tuple(row["test_list"]), setup=row.get("test_setup_code") or ""))
        except (KeyError, TypeError, ValueError) as exc:
            raise BenchmarkError(f"{path}:{lineno}: bad MBPP record ({exc})") from None
    return problems


def quixbugs_names(root: Path | str = QUIXBUGS_DIR) -> list[str]:
    """Names of the 40 QuixBugs Python programs, sorted."""
    root = Path(root)
    names = [p.stem for p in (root / "python_programs").glob("*.py")
             if not p.stem.endswith("_test") and p.stem not in _QUIXBUGS_HELPERS]
    return sorted(names)


def load_quixbugs(root: Path | str = QUIXBUGS_DIR) -> list[RepairTask]:
    """QuixBugs (Lin et al. 2017), Python half, as repair tasks judged by its pytest files."""
    root = Path(root).resolve()
    tasks = []
    for name in quixbugs_names(root):
        buggy = root / "python_programs" / f"{name}.py"
        test_file = root / "python_testcases" / f"test_{name}.py"
        if not test_file.exists():
            raise BenchmarkError(f"QuixBugs test file missing: {test_file}")
        suite = TestSuite.from_pytest([str(test_file)], program_path=str(buggy), rootdir=str(root))
        fixed = (root / "correct_python_programs" / f"{name}.py").read_text()
        tasks.append(RepairTask(task_id=name, source=buggy.read_text(), suite=suite, fixed=fixed,
                                entry_point=name, path=str(buggy)))
    return tasks


def load_jsonl_tasks(path: Path | str) -> list[RepairTask]:
    """Repair tasks in kelp's JSONL format, one object per line.

    Fields: ``task_id`` (str or int), ``source`` (the buggy program), exactly one of
    ``tests`` (list of assert statements, optional ``setup``), ``check`` (HumanEval-style
    ``def check(candidate): ...`` source, with ``entry_point``) or ``pytest`` (list of test file
    paths, relative to the JSONL file, with optional ``module_path``: where the program lives,
    so tests can import it), and optionally ``fixed`` (the known-good source).
    """
    path = Path(path)
    tasks = []
    for lineno, row in _read_jsonl(path):
        where = f"{path}:{lineno}"
        if "task_id" not in row or "source" not in row:
            raise BenchmarkError(f"{where}: each task needs 'task_id' and 'source'")
        kinds = [k for k in ("tests", "check", "pytest") if k in row]
        if len(kinds) != 1:
            raise BenchmarkError(f"{where}: give exactly one of 'tests', 'check', 'pytest' (got {kinds})")
        kind = kinds[0]
        if kind == "tests":
            suite = TestSuite.from_asserts(list(row["tests"]), setup=row.get("setup", ""))
        elif kind == "check":
            if "entry_point" not in row:
                raise BenchmarkError(f"{where}: a 'check' task needs 'entry_point'")
            suite = TestSuite.from_check(row["check"], row["entry_point"])
        else:
            files = [str((path.parent / f).resolve()) for f in row["pytest"]]
            module_path = str((path.parent / row.get("module_path", f"{row['task_id']}.py")).resolve())
            suite = TestSuite.from_pytest(files, program_path=module_path, rootdir=str(path.parent.resolve()))
        tasks.append(RepairTask(task_id=str(row["task_id"]), source=row["source"], suite=suite,
                                fixed=row.get("fixed"), entry_point=row.get("entry_point"),
                                meta={k: v for k, v in row.items() if k == "meta"}))
    return tasks


def _read_jsonl(path: Path):
    if not path.exists():
        raise BenchmarkError(f"file not found: {path}")
    with path.open() as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BenchmarkError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
