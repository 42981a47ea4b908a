"""The edit model's training corpus: Python functions from the running interpreter's standard
library and from installed packages, filtered and decontaminated against the benchmarks.

Decontamination removes every corpus function that matches a
benchmark function (MBPP, all splits; QuixBugs, buggy and correct) by either key:

- normalised-AST hash: docstrings dropped, the function's own name, its parameters and its
  local names renamed in order of first appearance (so a renamed copy still matches);
- name + signature: the function name and its parameter names (not for ``__dunder__``
  methods, whose names and signatures every class shares).

The build is deterministic for a given interpreter and package set: files are read in sorted
order and the report records the versions it saw.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import importlib.metadata
import importlib.util
import json
import sys
import sysconfig
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kelp.errors import KelpError

#: Packages read by default when installed (import names), besides the standard library.
DEFAULT_PACKAGES = ("torch", "transformers", "tokenizers", "safetensors", "matplotlib", "numpy",
                    "hypothesis", "rich", "pydantic", "coverage", "_pytest", "pluggy", "typer",
                    "pygments", "markdown_it", "packaging", "setuptools", "sortedcontainers",
                    "yaml", "jsonschema", "networkx", "sympy", "scipy")
#: Standard-library directories left out: tests, IDLE, turtle demos, vendored packages.
_SKIP_DIRS = {"test", "tests", "idlelib", "turtledemo", "site-packages", "lib2to3", "__pycache__",
              "_vendor", "vendor", "testing"}


class CorpusError(KelpError, ValueError):
    """The corpus cannot be built or read (message says why)."""


@dataclass(frozen=True)
class CorpusConfig:
    """Which functions go in: ``min_lines``..``max_lines`` source lines (decorators excluded)
    and at most ``max_chars`` characters of normalised source."""

    packages: tuple[str, ...] = DEFAULT_PACKAGES
    stdlib: bool = True
    min_lines: int = 3
    max_lines: int = 40
    max_chars: int = 2000


@dataclass(frozen=True)
class CorpusFunction:
    """One function: ``origin`` is ``"<package>:<path inside it>:<line>"``, ``code`` the
    normalised source of the function alone (``ast.unparse``, dedented), ``docstring`` its
    docstring or ``""``."""

    origin: str
    name: str
    code: str
    docstring: str


@dataclass
class CorpusReport:
    """What the build read, dropped (by reason) and kept; ``removed`` lists up to 50
    decontaminated functions with the benchmark item they matched."""

    files: int = 0
    unreadable_files: int = 0
    functions_seen: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    removed: list = field(default_factory=list)
    sources: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """JSON-ready dict."""
        data = asdict(self)
        data["dropped"] = dict(sorted(self.dropped.items()))
        return data


def source_roots(config: CorpusConfig) -> list[tuple[str, Path]]:
    """``(label, directory)`` pairs to read: the standard library and each installed package
    of ``config.packages`` (missing ones are skipped), with the version in the label."""
    roots = []
    if config.stdlib:
        roots.append((f"stdlib-{sys.version_info.major}.{sys.version_info.minor}",
                      Path(sysconfig.get_paths()["stdlib"])))
    for name in config.packages:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        roots.append((f"{name}-{_version(name)}", Path(next(iter(spec.submodule_search_locations)))))
    return roots


def _version(module: str) -> str:
    dists = importlib.metadata.packages_distributions().get(module) or [module]
    try:
        return importlib.metadata.version(dists[0])
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def iter_files(root: Path) -> Iterator[Path]:
    """Python files under ``root`` in sorted order, skipping test and vendored directories."""
    for path in sorted(root.rglob("*.py")):
        if not _SKIP_DIRS.intersection(path.relative_to(root).parts[:-1]):
            yield path


def extract_functions(source: str, origin: str, config: CorpusConfig = CorpusConfig(),
                      dropped: Counter | None = None) -> list[CorpusFunction]:
    """Every function and method in ``source`` that passes the filters, in source order.

    Raises :class:`SyntaxError` when ``source`` does not parse. Reasons for dropping a
    function are counted in ``dropped``: ``async``, ``too_short``, ``too_long``, ``trivial``
    (body is only a docstring, ``pass``, ``...`` or a raise), ``not_roundtrip``."""
    dropped = dropped if dropped is not None else Counter()
    tree = _parse_quietly(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.AsyncFunctionDef):
            dropped["async"] += 1
            continue
        if not isinstance(node, ast.FunctionDef):
            continue
        lines = node.end_lineno - node.lineno + 1
        if lines < config.min_lines:
            dropped["too_short"] += 1
            continue
        if lines > config.max_lines:
            dropped["too_long"] += 1
            continue
        body = _without_docstring(node.body)
        if not body or all(_is_trivial(stmt) for stmt in body):
            dropped["trivial"] += 1
            continue
        code = ast.unparse(node)
        if len(code) > config.max_chars:
            dropped["too_long"] += 1
            continue
        try:
            if ast.unparse(ast.parse(code)) != code:
                dropped["not_roundtrip"] += 1
                continue
        except (SyntaxError, ValueError, RecursionError):
            dropped["not_roundtrip"] += 1
            continue
        found.append(CorpusFunction(f"{origin}:{node.lineno}", node.name, code, ast.get_docstring(node) or ""))
    found.sort(key=lambda f: int(f.origin.rsplit(":", 1)[1]))
    return found


def _parse_quietly(source: str) -> ast.Module:
    """``ast.parse`` without the warnings old code raises (invalid escape sequences)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1:]
    return body


def _is_trivial(stmt: ast.stmt) -> bool:
    return isinstance(stmt, (ast.Pass, ast.Raise)) or (
        isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))


_BUILTINS = frozenset(dir(builtins))


class _Renamer(ast.NodeTransformer):
    """Renames the function, its parameters and every non-builtin name to ``v0, v1, ...`` in
    order of first appearance, and drops docstrings."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _new(self, name: str) -> str:
        if name in _BUILTINS:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = self._new(node.name)
        node.body = _without_docstring(node.body) or [ast.Pass()]
        node.decorator_list = []
        node.returns = None
        return self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._new(node.arg)
        node.annotation = None
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._new(node.id)
        return node


def normalised_hash(code: str) -> str:
    """SHA-256 of the alpha-renamed, docstring-free dump of the first function in ``code``
    (the whole module when it has no function). Raises :class:`SyntaxError` on bad code."""
    tree = ast.parse(code)
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    target = funcs[0] if funcs else tree
    renamed = _Renamer().visit(target)
    return hashlib.sha256(ast.dump(renamed, annotate_fields=False).encode()).hexdigest()


def signature_key(node: ast.FunctionDef) -> str:
    """``name(arg, ...)``: the function name and its parameter names (``self``/``cls`` dropped)."""
    args = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            if a.arg not in ("self", "cls")]
    return f"{node.name}({', '.join(args)})"


@dataclass
class ContaminationIndex:
    """Keys of the benchmark functions: ``hashes`` and ``signatures`` map each key to the
    benchmark item it came from (e.g. ``"mbpp:12"``)."""

    hashes: dict[str, str] = field(default_factory=dict)
    signatures: dict[str, str] = field(default_factory=dict)

    def add(self, source: str, label: str) -> None:
        """Index every function in ``source`` (a whole benchmark program). Programs that do not
        parse are skipped."""
        try:
            tree = _parse_quietly(source)
        except SyntaxError:
            return
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                self.hashes.setdefault(normalised_hash(ast.unparse(node)), label)
                self.signatures.setdefault(signature_key(node), label)

    def match(self, function: CorpusFunction, key: str | None = None) -> tuple[str, str] | None:
        """``(reason, benchmark item)`` when ``function`` matches a benchmark function, else None.
        ``key``: its :func:`normalised_hash` when the caller already has it."""
        node = ast.parse(function.code).body[0]
        label = self.hashes.get(key or normalised_hash(function.code))
        if label is not None:
            return "contaminated_ast", label
        label = None if _is_dunder(node.name) else self.signatures.get(signature_key(node))
        if label is not None:
            return "contaminated_signature", label
        return None


def _is_dunder(name: str) -> bool:
    """``__lt__``, ``__init__``: protocol methods share their names and signatures across
    every class, so only the AST hash can tie one to a benchmark."""
    return name.startswith("__") and name.endswith("__")


def benchmark_index() -> ContaminationIndex:
    """The decontamination keys of MBPP (all splits) and QuixBugs (buggy and correct programs)."""
    from kelp.datasets.loaders import QUIXBUGS_DIR, load_mbpp, quixbugs_names

    index = ContaminationIndex()
    for problem in load_mbpp("all"):
        index.add(problem.code, f"mbpp:{problem.task_id}")
    for name in quixbugs_names():
        for folder in ("python_programs", "correct_python_programs"):
            path = Path(QUIXBUGS_DIR) / folder / f"{name}.py"
            if path.exists():
                index.add(path.read_text(), f"quixbugs:{name}")
    return index


def build_corpus(out: Path, config: CorpusConfig = CorpusConfig(),
                 index: ContaminationIndex | None = None, roots: Iterable[tuple[str, Path]] | None = None,
                 progress=None) -> CorpusReport:
    """Write ``out/functions.jsonl`` (one :class:`CorpusFunction` per line, deduplicated by
    normalised-AST hash, decontaminated) and ``out/report.json``; returns the report.

    ``roots`` defaults to :func:`source_roots`; ``progress(label, done, total)`` is called per
    file. Raises :class:`CorpusError` when nothing could be read."""
    index = index if index is not None else benchmark_index()
    roots = list(roots if roots is not None else source_roots(config))
    report = CorpusReport(sources={label: str(path) for label, path in roots})
    files = [(label, root, path) for label, root in roots for path in iter_files(root)]
    seen: set[str] = set()
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "functions.jsonl.tmp"
    with tmp.open("w", encoding="utf-8") as sink:
        for done, (label, root, path) in enumerate(files, 1):
            if progress is not None:
                progress(label, done, len(files))
            try:
                text = path.read_text(encoding="utf-8")
                functions = extract_functions(text, f"{label}:{path.relative_to(root).as_posix()}",
                                              config, report.dropped)
            except (SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError, OSError):
                report.unreadable_files += 1
                continue
            report.files += 1
            for function in functions:
                report.functions_seen += 1
                key = normalised_hash(function.code)
                if key in seen:
                    report.dropped["duplicate"] += 1
                    continue
                seen.add(key)
                hit = index.match(function, key)
                if hit is not None:
                    report.dropped[hit[0]] += 1
                    if len(report.removed) < 50:
                        report.removed.append({"origin": function.origin, "name": function.name,
                                               "reason": hit[0], "matched": hit[1]})
                    continue
                sink.write(json.dumps(asdict(function)) + "\n")
                report.kept += 1
    if report.files == 0:
        tmp.unlink()
        raise CorpusError("no Python source could be read from " + ", ".join(str(p) for _, p in roots))
    tmp.replace(out / "functions.jsonl")
    (out / "report.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return report


def load_corpus(path: Path) -> list[CorpusFunction]:
    """Read ``functions.jsonl`` (or the directory holding it). Raises :class:`CorpusError`
    for a missing file or a malformed line."""
    path = path / "functions.jsonl" if path.is_dir() else path
    if not path.exists():
        raise CorpusError(f"corpus not found: {path} (build it with `kelp train corpus`)")
    functions = []
    with path.open(encoding="utf-8") as lines:
        for lineno, line in enumerate(lines, 1):
            try:
                functions.append(CorpusFunction(**json.loads(line)))
            except (json.JSONDecodeError, TypeError) as exc:
                raise CorpusError(f"{path}:{lineno}: bad corpus line ({exc})") from None
    return functions
