"""Real-project repair tasks: small, permissively licensed pure-Python packages vendored as
their PyPI sdists (``kelp/data/projects``, see its README.md and SOURCE.md), with seeded bugs
that break the packages' own pytest suites.

A bug is made by the forward process (:func:`kelp.corrupt.corrupt`, one realistic mutation,
seeded) inside one function or method of the package, and spliced back into the file's own
text as the smallest textual edit (comments and formatting elsewhere are kept). It is kept only
if a test of the project's full suite that passes on the clean tree fails on the buggy tree (the
must-break filter); the test file with the most failing tests (or, past
:data:`SELECT_FILE_MAX` failures, its first failing test) becomes the *selection*, the
``--pytest`` argument a user would give.

The suites run in the :class:`~kelp.execute.Sandbox` on the tree as it lies on disk: the job's
program is an empty stand-in module (:data:`RUNNER_MODULE`) that no test imports, so pytest
imports the package exactly as it would outside kelp. The same runner judges patches
(``kelp.bench.projects_eval``).

Bug lists are deterministic functions of (project, seed) and of the sandbox's verdicts; they are
cached as JSON per project (:func:`generate_bugs`) and grow incrementally: the first k bugs of a
project do not depend on how many were asked for.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import math
import os
import random
import shlex
import shutil
import tarfile
import tempfile
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from kelp.corrupt import CorruptionError, corrupt
from kelp.errors import KelpError
from kelp.execute.errors import CollectError
from kelp.execute.results import Job, Limits, RunResult
from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.program.tree import ProgramError, functions, node_at, parse, unparse

PROJECTS_DIR = Path(__file__).resolve().parent.parent / "data" / "projects"
#: Name of the empty program a tree run serves; no test imports it, so the package under test
#: is imported from disk as pytest would import it.
RUNNER_MODULE = "_kelp_project_runner"
#: Limits of full-suite runs (the must-break filter and the judge of patches): a whole suite
#: runs in one job, so the job, CPU and per-test limits are wider than a repair's.
SUITE_LIMITS = Limits(test_timeout=5.0, job_timeout=180.0, cpu_seconds=300)
#: Bumped whenever generation changes, so cached bug lists of an older generator are not reused.
GENERATOR_VERSION = 3
#: Mutation attempts per project at most: ``ATTEMPTS_PER_BUG`` per bug asked for, plus a margin.
ATTEMPTS_PER_BUG = 8
#: Most failing tests a selected test file may have; beyond it the selection is one failing test
#: (a file of hundreds of failures also outlasts the repair's initial run).
SELECT_FILE_MAX = 25
#: Where bug lists are cached by default.
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kelp" / "projects"


class ProjectError(KelpError, ValueError):
    """A project that cannot be used: unknown name, damaged sdist, or a clean suite that fails."""


@dataclass(frozen=True)
class Project:
    """One vendored project. ``name``/``version``: the PyPI release; ``package``: its import
    name; ``package_dir``: where the package lies inside the sdist's top folder (a ``src/``
    layout is moved to the root when materialised, see :func:`materialise`); ``tests``: test
    paths relative to the materialised root; ``deselect``: node ids (or id prefixes) left out
    of the suite (tests that cannot run in the sandbox, e.g. ones that start subprocesses);
    ``skip_files``: package files never mutated (code no test on Linux runs); ``sha256`` of the
    sdist; ``source``: the sdist or a plain directory (default the bundled sdist)."""

    name: str
    version: str
    package: str
    package_dir: str
    tests: tuple[str, ...]
    license: str
    sha256: str | None = None
    deselect: tuple[str, ...] = ()
    skip_files: tuple[str, ...] = ()
    source: Path | None = None

    @property
    def key(self) -> str:
        """``name-version``: the sdist's stem and the materialised root's folder name."""
        return f"{self.name}-{self.version}"

    @property
    def archive(self) -> Path:
        """The sdist (or directory) the project is materialised from."""
        return Path(self.source) if self.source is not None else PROJECTS_DIR / f"{self.key}.tar.gz"


#: The bundled projects (licenses and provenance: ``kelp/data/projects/SOURCE.md``).
PROJECTS: tuple[Project, ...] = (
    Project("cachetools", "8.0.2", "cachetools", "src/cachetools", ("tests",), "MIT",
            "30ac523adfc118b51d2b2e7bad8a0ddb31370dfe2700c7f10ca224f36ccf81e0"),
    Project("tabulate", "0.10.0", "tabulate", "tabulate", ("test",), "MIT",
            "e2cfde8f79420f6deeffdeda9aaec3b6bc5abce947655d17ac662b126e48a60d",
            deselect=("test/test_cli.py",)),
    Project("colorama", "0.4.6", "colorama", "colorama", ("colorama/tests",), "BSD-3-Clause",
            "08695f5cb7ed6e0531a20572697297273c47b8cae5a63ffc6d6ed5c201be6e44",
            skip_files=("colorama/win32.py", "colorama/winterm.py")),
    Project("sqlparse", "0.6.1", "sqlparse", "sqlparse", ("tests",), "BSD-3-Clause",
            "ca722573f848ff2d30e40ea30f53a104b7dea7635ea9285891263eb2c58fb6e7",
            deselect=("tests/test_cli.py::test_script",),
            skip_files=("sqlparse/cli.py", "sqlparse/__main__.py")),
    Project("webcolors", "25.10.0", "webcolors", "src/webcolors", ("tests",), "BSD-3-Clause",
            "62abae86504f66d0f6364c2a8520de4a0c47b80c03fc3a5f1815fedbef7c19bf"),
)


def select_projects(names: tuple[str, ...] | list[str] = ()) -> list[Project]:
    """The bundled projects named in ``names`` (all when empty), in :data:`PROJECTS` order.
    Raises :class:`ProjectError` for an unknown name."""
    known = {p.name: p for p in PROJECTS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ProjectError(f"unknown project(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [p for p in PROJECTS if not names or p.name in names]


# ------------------------------------------------------------------------------ trees on disk
def materialise(project: Project, dest: Path) -> Path:
    """Unpack ``project`` into the new directory ``dest`` (which must not exist) and return it.

    An sdist is checked against its sha256 and extracted with tarfile's ``data`` filter (no
    links out, no devices); a ``src/`` layout package is moved to the root, because the sandbox
    puts only pytest's rootdir on the import path. Raises :class:`ProjectError`."""
    dest = Path(dest)
    if dest.exists():
        raise ProjectError(f"{dest} already exists")
    source = project.archive
    if source.is_dir():
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise ProjectError(f"cannot read {source}: {exc.strerror or exc}") from None
        if project.sha256 and hashlib.sha256(data).hexdigest() != project.sha256:
            raise ProjectError(f"{source} does not match its sha256 {project.sha256}")
        with tempfile.TemporaryDirectory(prefix="kelp-sdist-") as tmp, tarfile.open(source) as tar:
            tar.extractall(tmp, filter="data")
            tops = os.listdir(tmp)
            if len(tops) != 1:
                raise ProjectError(f"{source} should hold one top folder, not {tops}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(os.path.join(tmp, tops[0]), dest)
    if project.package_dir != project.package:
        shutil.move(dest / project.package_dir, dest / project.package)
    return dest


@contextlib.contextmanager
def workdir(prefix: str, parent: Path | None = None):
    """A temporary directory (removed afterwards) that the sandbox's jobs can read: mode 0755,
    since a job runs as a private uid that may lack root's right to read any file."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir=parent) as tmp:
        os.chmod(tmp, 0o755)
        yield Path(tmp)


def tree_suite(project: Project, root: Path) -> TestSuite:
    """The project's full suite over the tree at ``root``, not yet collected: an empty stand-in
    program, so the tests import the package from disk."""
    return TestSuite("pytest", (), pytest_args=tuple(str(Path(root) / t) for t in project.tests),
                     rootdir=str(root), module_names=(RUNNER_MODULE,))


def _deselected(test_id: str, deselect: tuple[str, ...]) -> bool:
    return any(test_id == d or test_id.startswith(d + "::") for d in deselect)


def collect_suite(sandbox: Sandbox, project: Project, root: Path, exclude=()) -> TestSuite:
    """The full suite of the tree at ``root``, collected in ``sandbox``, minus
    ``project.deselect`` and the node ids in ``exclude``. Raises
    :class:`~kelp.execute.errors.CollectError`."""
    suite = sandbox.collect("", tree_suite(project, root))
    skip = set(exclude)
    return replace(suite, tests=tuple(t for t in suite.tests
                                      if t.id not in skip and not _deselected(t.id, project.deselect)))


def run_suite(sandbox: Sandbox, project: Project, root: Path, suite: TestSuite | None = None,
              exclude=()) -> RunResult:
    """Run the full suite (minus ``exclude``) on the tree at ``root``, as it is on disk.
    ``suite``: a collection to reuse (of this or an identical tree); if its node ids no longer
    run (the tree changed what is collected), it is collected again. A tree whose tests cannot
    be collected gives a ``load_error`` result, never an exception. A run in which every test
    has its outcome is ``ok`` even when the sandbox notes that no test imported the stand-in
    program (it is not meant to be imported)."""
    fresh = suite is None
    try:
        suite = suite or collect_suite(sandbox, project, root, exclude)
    except CollectError as exc:
        return RunResult("load_error", message=f"collection failed: {exc}")
    run = sandbox.run("", suite, continue_after_timeout=True)
    if run.status == "load_error" and run.outcomes and all(o.status != "not_run" for o in run.outcomes):
        # every test ran; the sandbox only adds that none imported the (empty) program, as intended
        return replace(run, status="ok", message=None)
    if run.status == "load_error" and not fresh:
        return run_suite(sandbox, project, root, exclude=exclude)
    return run


def clean_baseline(sandbox: Sandbox, project: Project, root: Path) -> tuple[TestSuite, list[str]]:
    """Collect and run the clean tree at ``root``: (its suite without the tests that fail on the
    clean tree, those tests' ids). A test the sandbox cannot pass on the unchanged package says
    nothing about a bug or a patch, so it is left out of the must-break filter and the judge
    (as SWE-bench keeps only PASS_TO_PASS tests). Raises :class:`ProjectError` when the clean
    suite cannot be collected or run, or more than a tenth of it fails."""
    try:
        suite = collect_suite(sandbox, project, root)
    except CollectError as exc:
        raise ProjectError(f"{project.key}: the clean suite cannot be collected in the sandbox: {exc}") from None
    run = run_suite(sandbox, project, root, suite)
    failing = run.failing_ids
    if run.status != "ok" or not run.total or len(failing) * 10 > run.total:
        raise ProjectError(f"{project.key}: the clean suite does not pass in the sandbox "
                           f"({run.status}, {run.passed}/{run.total}): {failing[:3] or [run.message]}")
    skip = set(failing)
    return replace(suite, tests=tuple(t for t in suite.tests if t.id not in skip)), failing


def relative_imports(source: str) -> bool:
    """Whether a module's source has a relative import (``from . import x``)."""
    return any(isinstance(n, ast.ImportFrom) and n.level > 0 for n in ast.walk(ast.parse(source)))


def location_of(file: str, source: str) -> str:
    """Where a file sits, for the benchmark's breakdown: ``"__init__"`` (a package's
    ``__init__.py``), ``"relative_import"`` (another module with a relative import) or
    ``"module"``."""
    if Path(file).name == "__init__.py":
        return "__init__"
    return "relative_import" if relative_imports(source) else "module"


# ------------------------------------------------------------------------------ bugs
@dataclass(frozen=True)
class ProjectBug:
    """One seeded bug. ``file``: relative to the materialised root (posix); ``function``: the
    mutated function's qualname; ``location``: :func:`location_of`; ``in_class``: a method;
    ``mutation``: family, before, after (normalised sources); ``seed``/``attempt``: the
    corruption seed and the attempt that made it; ``edits``: ``{"offset", "old", "new"}`` text
    edits on the original file (:func:`apply_bug`); ``selection``: the pytest arguments a user
    would give (relative to the root); ``failing_test``: a failing test of the selection;
    ``failing``: tests of the full suite that fail; ``failing_files``: their files."""

    bug_id: str
    project: str
    file: str
    function: str
    location: str
    in_class: bool
    mutation: dict
    seed: int
    attempt: int
    edits: tuple[dict, ...]
    selection: str
    failing_test: str
    failing: int
    failing_files: tuple[str, ...] = field(default=())

    def to_json(self) -> dict:
        """JSON-ready dict (inverse: :meth:`from_json`)."""
        out = asdict(self)
        out["edits"], out["failing_files"] = list(self.edits), list(self.failing_files)
        return out

    @classmethod
    def from_json(cls, data: dict) -> ProjectBug:
        """Inverse of :meth:`to_json`."""
        return cls(**{**data, "edits": tuple(data["edits"]), "failing_files": tuple(data.get("failing_files", ()))})


def apply_edits(text: str, edits) -> str:
    """``text`` with ``edits`` (``{"offset", "old", "new"}``, non-overlapping) applied.
    Raises :class:`ProjectError` when an edit's ``old`` text is not at its offset."""
    for edit in sorted(edits, key=lambda e: e["offset"], reverse=True):
        start, old = edit["offset"], edit["old"]
        if text[start:start + len(old)] != old:
            raise ProjectError(f"edit at offset {start} does not match the file")
        text = text[:start] + edit["new"] + text[start + len(old):]
    return text


def apply_bug(root: Path, bug: ProjectBug) -> str:
    """Write the buggy file of ``bug`` into the clean tree at ``root``; returns its text."""
    path = Path(root) / bug.file
    buggy = apply_edits(path.read_text(encoding="utf-8"), bug.edits)
    path.write_text(buggy, encoding="utf-8")
    return buggy


def _offsets(text: str):
    starts, total = [], 0
    for line in text.splitlines(keepends=True):
        starts.append(total)
        total += len(line)
    starts.append(total)
    lines = text.splitlines(keepends=True)

    def offset(lineno: int, col: int) -> int:  # ast columns count UTF-8 bytes
        return starts[lineno - 1] + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8", "replace"))

    return starts, offset


def _normal(text: str) -> str | None:
    try:
        return unparse(parse(text))
    except (ProgramError, SyntaxError, ValueError, RecursionError):
        return None


def splice_edit(text: str, corrupted: str, path: tuple, after: str = "") -> dict:
    """The smallest text edit (``{"offset", "old", "new"}``) that turns ``text`` into a program
    whose normalised form is ``corrupted`` (the normalised ``text`` mutated at node ``path``;
    ``after``: the mutation's new source, for a statement unwrapped into its body). Tried from
    the mutated node up its path: the expression's own source span, then the enclosing
    statement's lines (deleted, or replaced by the new statement); the first edit whose result
    normalises to ``corrupted`` wins, the whole file being the last resort."""
    before, new_tree = parse(text), parse(corrupted)
    starts, offset = _offsets(text)
    first_stmt = True

    def indented(body: str, indent: str) -> str:
        return "".join(indent + line + "\n" if line.strip() else "\n" for line in body.split("\n"))

    def candidates(old, new):
        nonlocal first_stmt
        if isinstance(old, ast.expr) and getattr(old, "end_lineno", None) and isinstance(new, ast.AST):
            a, b = offset(old.lineno, old.col_offset), offset(old.end_lineno, old.end_col_offset)
            source = ast.unparse(new)
            yield a, b, source
            yield a, b, f"({source})"
        if isinstance(old, ast.stmt):
            first = min([old.lineno] + [d.lineno for d in getattr(old, "decorator_list", [])])
            a, b = starts[first - 1], starts[old.end_lineno]
            indent = text[a:a + old.col_offset]
            if indent.strip():
                return
            if first_stmt:
                first_stmt = False
                yield a, b, ""  # a deleted statement
                if after:
                    yield a, b, indented(after, indent)  # a statement replaced by its body
            if isinstance(new, ast.stmt):
                yield a, b, indented(ast.unparse(new), indent)

    for depth in range(len(path), -1, -1):
        try:
            old = node_at(before, path[:depth])
        except (ProgramError, LookupError, TypeError, AttributeError):
            continue
        try:
            new = node_at(new_tree, path[:depth])
        except (ProgramError, LookupError, TypeError, AttributeError):
            new = None  # a deleted statement has no counterpart
        if not isinstance(old, ast.AST):
            continue
        for a, b, replacement in candidates(old, new):
            if _normal(text[:a] + replacement + text[b:]) == corrupted:
                return {"offset": a, "old": text[a:b], "new": replacement}
    return {"offset": 0, "old": text, "new": corrupted}


def mutable_functions(project: Project, root: Path) -> dict[str, list[tuple[str, bool]]]:
    """``file -> [(qualname, in_class)]`` of the package files that may be mutated: ``.py``
    files of the package, not under a test path nor in ``skip_files``; functions with a unique
    qualname (a property's getter and setter share one, and are skipped)."""
    root = Path(root)
    tests = [root / t for t in project.tests]
    out = {}
    for path in sorted((root / project.package).rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel in project.skip_files or any(t == path or t in path.parents for t in tests):
            continue
        tree = parse(path.read_text(encoding="utf-8"))
        infos = functions(tree)
        counts = Counter(i.qualname for i in infos)
        found = [(i.qualname, isinstance(node_at(tree, i.path[:-2]) if len(i.path) > 2 else tree, ast.ClassDef))
                 for i in infos if counts[i.qualname] == 1]
        if found:
            out[rel] = found
    return out


def attempt_seed(seed: int, project: str, attempt: int) -> int:
    """The corruption seed of one attempt: a fixed function of the eval seed."""
    return (seed * 1_000_003 + zlib.crc32(project.encode()) + attempt * 104_729) % (2**31 - 1)


def _plan(sites: dict[str, list[tuple[str, bool]]], project: Project, seed: int) -> list[tuple[str, str, bool]]:
    """The order in which functions are tried: files in a seeded order, round-robin, each
    file's functions in a seeded order."""
    rng = random.Random(f"kelp-projects:{project.key}:{seed}")
    files = sorted(sites)
    rng.shuffle(files)
    queues = {f: rng.sample(sites[f], len(sites[f])) for f in files}
    plan = []
    for k in range(max((len(q) for q in queues.values()), default=0)):
        plan += [(f, *queues[f][k]) for f in files if k < len(queues[f])]
    return plan


def _selection(run: RunResult) -> tuple[str, str, tuple[str, ...]]:
    """(the selection, its first failing test, every file with a failing test). The selection
    is the test file with the most failing tests (the first such in suite order), or, when
    more than :data:`SELECT_FILE_MAX` of its tests fail, its first failing test's node id (a
    user facing a wall of failures narrows it down to one)."""
    failing = run.failing_ids
    per_file = Counter(t.split("::")[0] for t in failing)
    order = list(dict.fromkeys(t.split("::")[0] for t in failing))
    best = max(order, key=lambda f: (per_file[f], -order.index(f)))
    first = next(t for t in failing if t.split("::")[0] == best)
    return shlex.quote(best if per_file[best] <= SELECT_FILE_MAX else first), first, tuple(order)


def _cache_key(project: Project, seed: int) -> dict:
    return {"generator": GENERATOR_VERSION, "project": project.key, "sha256": project.sha256, "seed": seed,
            "deselect": list(project.deselect), "skip_files": list(project.skip_files)}


def generate_bugs(project: Project, sandbox: Sandbox, n: int, *, seed: int = 0,
                  cache_dir: Path | None = DEFAULT_CACHE) -> tuple[list[ProjectBug], dict]:
    """The first ``n`` bugs of ``project`` for ``seed`` (fewer when the attempts run out) and
    the attempts dropped, by reason (``no_mutation_site``, ``never_breaks``, ``duplicate``,
    ``breaks_collection`` (a test module no longer imports: no test outcome to select from),
    ``suite_<status>`` for a buggy tree whose suite did not run to the end).

    ``sandbox`` should have :data:`SUITE_LIMITS`; its workers each get a copy of the tree, so
    attempts run in parallel. With ``cache_dir`` the list is read from and written to
    ``cache_dir/<name>-<version>-seed<seed>.json`` and extended from where it stopped.
    Raises :class:`ProjectError` when the clean suite does not run in the sandbox
    (:func:`clean_baseline`)."""
    cache = Path(cache_dir) / f"{project.key}-seed{seed}.json" if cache_dir is not None else None
    state = {"key": _cache_key(project, seed), "attempts": 0, "bugs": [], "dropped": {}}
    if cache is not None and cache.exists():
        try:
            saved = json.loads(cache.read_text())
            if saved.get("key") == state["key"]:
                state = saved
        except ValueError:
            pass
    if len(state["bugs"]) < n and state["attempts"] < _cap(n):
        with workdir("kelp-projects-gen-") as tmp:
            _extend(project, sandbox, n, seed, state, tmp)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            part = cache.with_suffix(".tmp")
            part.write_text(json.dumps(state, indent=1) + "\n")
            part.replace(cache)
    return [ProjectBug.from_json(b) for b in state["bugs"][:n]], dict(state["dropped"])


def _extend(project: Project, sandbox: Sandbox, n: int, seed: int, state: dict, tmp: Path) -> None:
    """Try attempts from ``state["attempts"]`` on until ``n`` bugs or the cap; updates ``state``.
    Each attempt gets a fresh copy of the clean tree at a path of its own: the sandbox may keep
    a warm pytest session per tree, which must never see another attempt's files."""
    base = materialise(project, tmp / "clean" / project.key)
    suite, clean_failing = clean_baseline(sandbox, project, base)
    state["clean_failing"] = clean_failing
    sites = mutable_functions(project, base)
    plan = _plan(sites, project, seed)
    if not plan:
        raise ProjectError(f"{project.key}: no function to mutate")
    originals = {f: (base / f).read_text(encoding="utf-8") for f in sites}
    kinds = {f: location_of(f, text) for f, text in originals.items()}
    bugs, dropped = state["bugs"], Counter(state["dropped"])
    seen = {(b["file"], json.dumps(b["edits"])) for b in bugs}
    cap = _cap(n)
    attempt = state["attempts"]
    while len(bugs) < n and attempt < cap:
        batch = []  # (attempt, tree or None, (file, qualname, in_class, seed, mutation, edit) or drop reason)
        while sum(1 for b in batch if b[1] is not None) < sandbox.size and attempt < cap:
            file, qualname, in_class = plan[attempt % len(plan)]
            s = attempt_seed(seed, project.name, attempt)
            try:
                corruption = corrupt(originals[file], steps=1, seed=s, target=qualname)
            except CorruptionError:
                batch.append((attempt, None, "no_mutation_site"))
                attempt += 1
                continue
            mutation = corruption.mutations[0]
            edit = splice_edit(originals[file], corruption.source, mutation.path, mutation.after)
            if (file, json.dumps([edit])) in seen:
                batch.append((attempt, None, "duplicate"))
                attempt += 1
                continue
            root = tmp / f"a{attempt}" / project.key
            shutil.copytree(base, root)
            (root / file).write_text(apply_edits(originals[file], [edit]), encoding="utf-8")
            batch.append((attempt, root, (file, qualname, in_class, s, mutation, edit)))
            attempt += 1
        live = [b for b in batch if b[1] is not None]
        runs = sandbox.run_many([Job("", _rebased(suite, base, root), continue_after_timeout=True)
                                 for _, root, _ in live])
        results = {a: r for (a, _, _), r in zip(live, runs)}
        for a, root, _ in live:
            if results[a].status == "load_error":  # the buggy tree collects other tests
                results[a] = run_suite(sandbox, project, root, exclude=clean_failing)
            shutil.rmtree(root.parent, ignore_errors=True)
        for a, root, info in batch:
            if len(bugs) >= n:
                break
            state["attempts"] = a + 1
            if root is None:
                dropped[info] += 1
                continue
            run = results[a]
            if run.status != "ok":
                broken = (run.message or "").startswith("collection failed")
                dropped["breaks_collection" if broken else f"suite_{run.status}"] += 1
                continue
            if not run.failing_ids:
                dropped["never_breaks"] += 1
                continue
            file, qualname, in_class, s, mutation, edit = info
            selection, failing_test, files = _selection(run)
            bug = ProjectBug(f"{project.name}-{len(bugs):03d}", project.name, file, qualname, kinds[file], in_class,
                             {"family": mutation.family, "before": mutation.before, "after": mutation.after},
                             s, a, (edit,), selection, failing_test, len(run.failing_ids), files)
            bugs.append(bug.to_json())
            seen.add((file, json.dumps([edit])))
    state["dropped"] = dict(dropped)


def _rebased(suite: TestSuite, old: Path, new: Path) -> TestSuite:
    """``suite`` (collected on the tree at ``old``) for an identical tree at ``new``: every path
    under ``old`` it holds (test arguments, rootdir, ...) moved under ``new``; node ids are
    relative to the rootdir and stay."""
    old_s, new_s = str(old), str(new)

    def move(value):
        if isinstance(value, str) and (value == old_s or value.startswith(old_s + os.sep)):
            return new_s + value[len(old_s):]
        if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            return tuple(move(v) for v in value)
        return value

    return replace(suite, **{f.name: move(getattr(suite, f.name)) for f in fields(suite) if f.name != "tests"})


def _cap(n: int) -> int:
    return ATTEMPTS_PER_BUG * n + 20


def load_bugs(projects: list[Project], sandbox: Sandbox, n: int, *, seed: int = 0,
              cache_dir: Path | None = DEFAULT_CACHE) -> tuple[list[ProjectBug], dict]:
    """About ``n`` bugs across ``projects``: ``ceil(n / len(projects))`` from each (see
    :func:`generate_bugs`), interleaved round-robin and cut to ``n``; and the drops by reason,
    summed over projects (a project whose clean suite does not run counts its whole quota as
    ``project unusable: <why>``)."""
    quota = math.ceil(n / max(1, len(projects)))
    lists, dropped = [], Counter()
    for project in projects:
        try:
            bugs, drops = generate_bugs(project, sandbox, quota, seed=seed, cache_dir=cache_dir)
        except ProjectError as exc:  # counted, with the reason: the other projects still run
            bugs, drops = [], {f"project unusable: {exc}"[:500]: quota}
        lists.append(bugs)
        dropped.update(drops)
    mixed = [lst[k] for k in range(quota) for lst in lists if k < len(lst)]
    return mixed[:n], dict(dropped)


__all__ = ["workdir", "DEFAULT_CACHE", "PROJECTS", "PROJECTS_DIR", "RUNNER_MODULE", "SUITE_LIMITS", "Project",
           "ProjectBug", "ProjectError", "apply_bug", "apply_edits", "clean_baseline", "collect_suite", "generate_bugs",
           "load_bugs", "location_of", "materialise", "mutable_functions", "run_suite", "select_projects",
           "splice_edit", "tree_suite"]
