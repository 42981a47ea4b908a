"""What ``kelp repair`` is given, read and checked before any search: the program file and its
tests (a file of asserts, a ``check(candidate)`` function or ``test_*`` functions, or pytest
arguments as the user would give them to ``pytest``).

Every refusal is an :class:`InputError` (a :class:`~kelp.errors.KelpError`: one line, exit
status 2 on the command line) naming the file and what is wrong with it. Files are checked with
``stat`` before they are read, so a huge or special file is refused without reading it.
"""

from __future__ import annotations

import ast
import os
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from kelp.errors import KelpError
from kelp.execute.errors import CollectError, SuiteError
from kelp.execute.suites import TestSuite, project_root, replayed
from kelp.program.tree import ProgramSyntaxError, functions, parse

#: Largest program (and tests file) `kelp repair` accepts, in bytes, checked with ``stat`` before
#: the file is read: a bigger file is almost certainly not one buggy function plus context, and
#: parsing, localizing and enumerating edits over it would take minutes.
MAX_SOURCE_BYTES = 1_000_000
#: Most functions (and methods, nested included) a program given to `kelp repair` may define.
MAX_FUNCTIONS = 2_000
#: Deepest syntax tree a program may have (nodes from the module down): the search's tree walks
#: recurse, and Python's recursion limit is 1,000 frames.
MAX_NESTING = 300


class InputError(KelpError, ValueError):
    """A program or tests file that cannot be repaired against: missing, not a regular file,
    too large, binary, not UTF-8, unparsable, without a function, or without tests."""


@dataclass(frozen=True)
class RepairInputs:
    """A checked program and its tests: ``source`` (the program's text), ``suite`` (its tests;
    a pytest suite is not collected yet, see :func:`collect_tests`) and ``intent`` (the first
    non-empty docstring of its functions, "" if none)."""

    source: str
    suite: TestSuite
    intent: str = ""


def read_text(path: Path, what: str) -> str:
    """The text of ``path`` (the program or the tests file, named ``what`` in messages).

    Raises :class:`InputError` when it is missing or not a regular file, larger than
    :data:`MAX_SOURCE_BYTES` (checked before reading), unreadable, binary (contains NUL bytes)
    or not UTF-8."""
    try:
        info = path.stat()
    except OSError:
        raise InputError(f"{what} not found: {path}") from None
    if not path.is_file():
        raise InputError(f"{what} is not a regular file: {path}")
    if info.st_size > MAX_SOURCE_BYTES:
        raise InputError(f"{path} is too large: {info.st_size:,} bytes (the limit is {MAX_SOURCE_BYTES:,})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"\0" in data:
        raise InputError(f"{path} is a binary file (it contains NUL bytes), not Python source")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def suite_from_tests_file(path: Path, program: str, program_path: Path) -> TestSuite:
    """The suite a tests file holds: ``test_*`` functions make a pytest suite of that file (the
    program importable from ``program_path``); a ``check`` function a check suite on the
    program's first top-level function; otherwise its top-level asserts, one test each, with
    the other top-level statements as their setup. In a file with other statements between
    asserts (build, check, build again, check), each assert's test replays the statements
    before it, earlier asserts evaluated for their effects only, as running the file would;
    the statements before the first assert and after the last stay the setup. Raises
    :class:`InputError` for an unreadable or unparsable file, or one without tests."""
    text = read_text(path, "tests file")
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise InputError(f"{path}:{exc.lineno}: the tests file does not parse ({exc.msg})") from None
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    if any(name.startswith("test") for name in names):
        return TestSuite.from_pytest([str(path.resolve())], program_path=str(program_path.resolve()),
                                     invocation_dir=str(Path.cwd()))
    if "check" in names:
        defined = [n.name for n in ast.parse(program).body if isinstance(n, ast.FunctionDef)]
        if not defined:
            raise InputError("the program defines no function for check(candidate) to test")
        return TestSuite.from_check(text, defined[0])
    checks = [i for i, n in enumerate(tree.body) if isinstance(n, ast.Assert)]
    if not checks:
        raise InputError(f"{path} has no tests: give assert statements, a check(candidate) function or test_* functions")
    first, last = checks[0], checks[-1]
    if all(isinstance(n, ast.Assert) for n in tree.body[first:last]):
        setup = "\n".join(ast.get_source_segment(text, n) for n in tree.body if not isinstance(n, ast.Assert))
        return TestSuite.from_asserts([ast.get_source_segment(text, tree.body[i]) for i in checks], setup=setup)
    setup = "\n".join(ast.get_source_segment(text, n) for n in tree.body[:first] + tree.body[last + 1:])
    return TestSuite.from_asserts([replayed(tree.body[first:i + 1], text) for i in checks], setup=setup)


def suite_from_pytest_args(pytest_args: str | list[str], program_path: Path,
                           invocation_dir: Path | None = None) -> TestSuite:
    """A pytest suite from what one would type after ``pytest``: a list of arguments, or one
    shell-quoted string (``"tests/test_mod.py -k clamp"``, split with :mod:`shlex`).  Arguments
    are parsed as pytest parses them (``-k EXPR``, ``-m EXPR``, ``-p NAME``, ``-o INI=VALUE``,
    node ids ``path::Class::test``; only test paths and path options are resolved, against
    ``invocation_dir``, default the current directory; see
    :func:`kelp.execute.suites.parse_pytest_args`); the rootdir is the one pytest would choose.
    Raises :class:`InputError` for a test path that does not exist, an option without its
    value, or a program outside the rootdir (the tests cannot import it)."""
    args = shlex.split(pytest_args) if isinstance(pytest_args, str) else list(pytest_args)
    here = (invocation_dir or Path.cwd()).resolve()
    try:
        suite = TestSuite.from_pytest(args, program_path=str(program_path.resolve()), invocation_dir=str(here))
    except SuiteError as exc:
        raise InputError(str(exc)) from None
    _check_in_project(program_path, suite)
    return suite


def _check_in_project(program_path: Path, suite: TestSuite) -> None:
    """Refuse a program outside the tests' project (pytest's rootdir, or the project directory
    around it): the tests cannot import it."""
    program, root = str(program_path.resolve()), suite.rootdir
    if not root:
        return
    roots = [root] + [p for p in (project_root(os.path.join(root, "x")),) if p]
    if not any(program == r or program.startswith(r.rstrip("/") + "/") for r in roots):
        raise InputError(f"{program_path} is outside the project of the tests ({root}, pytest's rootdir): "
                         "the tests cannot import it")


def nesting(tree: ast.AST) -> int:
    """Depth of ``tree``: 1 for a node without children (walked without recursion)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def load_repair_inputs(file: Path, *, tests: Path | None = None,
                       pytest_args: str | list[str] | None = None) -> RepairInputs:
    """Read and check the program ``file`` and its tests: exactly one of ``tests`` (a tests file,
    see :func:`suite_from_tests_file`) or ``pytest_args`` (see :func:`suite_from_pytest_args`,
    run from the current directory; a list is taken as it is, a string is split like a shell).

    Raises :class:`InputError` when both or neither tests are given, or when the program is
    unreadable (:func:`read_text`), does not parse, defines no function or more than
    :data:`MAX_FUNCTIONS`, or is nested deeper than :data:`MAX_NESTING`; and for the tests' own faults."""
    if (tests is None) == (pytest_args is None):
        raise InputError("give exactly one of --tests FILE, --pytest \"ARGS\" or -- PYTEST_ARGS...")
    source = read_text(file, "file")
    try:
        tree = parse(source)
    except ProgramSyntaxError as exc:
        raise InputError(f"{file} does not parse: {exc}") from None
    depth = nesting(tree)
    if depth > MAX_NESTING:
        raise InputError(f"{file} is nested {depth:,} syntax-tree levels deep (the limit is {MAX_NESTING:,}): "
                         "split its deepest expression")
    defined = functions(tree)
    if not defined:
        raise InputError(f"{file} defines no function to repair")
    if len(defined) > MAX_FUNCTIONS:
        raise InputError(f"{file} defines {len(defined):,} functions (the limit is {MAX_FUNCTIONS:,})")
    if tests is not None:
        suite = suite_from_tests_file(tests, source, file)
    else:
        suite = suite_from_pytest_args(pytest_args, file)
    docstrings = [ast.get_docstring(node) or "" for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    return RepairInputs(source, suite, next((d for d in docstrings if d), ""))


def collect_tests(inputs: RepairInputs, sandbox) -> RepairInputs:
    """``inputs`` with a pytest suite collected into concrete tests in ``sandbox`` (a
    :class:`~kelp.execute.sandbox.Sandbox`: collecting imports user code); other suites are
    returned unchanged. Raises :class:`InputError` in one line when pytest collects no test or
    cannot collect (a test module or ``conftest.py`` that does not import, an unknown option or
    plugin, a set-up that does not finish in time; pytest's own words, see
    :func:`pytest_error_line`), or when the tests import the program's module name from
    another file."""
    if inputs.suite.kind != "pytest":
        return inputs
    try:
        suite = sandbox.collect(inputs.source, inputs.suite)
    except CollectError as exc:
        message = str(exc)
        if message.startswith("pytest collection failed"):
            message = pytest_error_line(message)
        raise InputError(" ".join(message.split())) from None
    if not suite.tests:
        raise InputError("pytest collected no tests (do the tests import the program?)")
    return replace(inputs, suite=suite)


#: Pytest options that narrow a run to some of its tests (joined to their values after parsing).
_SELECTING = ("-k", "-m", "--deselect", "--ignore", "--ignore-glob")


def regression_suite(suite: TestSuite) -> TestSuite | None:
    """The project's default pytest run (what ``pytest`` with no test paths runs from the rootdir:
    ``testpaths``, else the rootdir; the user's other options kept) for a pytest ``suite`` that
    selects some of it (test paths, node ids, ``-k``, ``-m``, ``--deselect``, ``--ignore``);
    ``None`` for other suites and for runs that select nothing. A repair found on the selection
    must not break the rest (:func:`kelp.repair.search.repair`'s ``regression``)."""
    if suite.kind != "pytest" or not suite.rootdir:
        return None
    args = list(suite.pytest_args)
    kept = [a for a in args if a.startswith("-") and not a.startswith(_SELECTING)]
    if len(kept) == len(args):
        return None
    try:
        return TestSuite.from_pytest(kept, program_path=suite.program_path, rootdir=suite.rootdir,
                                     invocation_dir=suite.rootdir)
    except SuiteError:
        return None


def pytest_error_line(report: str, limit: int = 400) -> str:
    """One line from pytest's multi-line error ``report``: its first line (what failed, say
    ``ImportError while importing test module '/p/tests/test_x.py'.``) and the ``E`` lines of
    the error itself, joined with ``; ``, at most ``limit`` characters."""
    lines = [ln.rstrip() for ln in report.splitlines() if ln.strip()]
    if lines and lines[0].startswith("pytest collection failed:"):
        lines = lines[1:] if lines[0].strip() == "pytest collection failed:" else \
            [lines[0][len("pytest collection failed:"):].strip()] + lines[1:]
    if not lines:
        return "pytest could not collect the tests"
    head = lines[0].strip()
    errors = [ln.strip()[1:].strip() for ln in lines[1:] if ln.lstrip().startswith("E ")]
    if not errors:  # a usage error: argparse's "prog: error: ..." line says what is wrong
        errors = [ln.strip() for ln in lines if "error:" in ln.lower() and "usage:" not in ln]
        if errors and "usage:" in head:
            head = errors.pop(0)
        elif not errors and len(lines) > 1:
            errors = [lines[-1].strip()]
    text = "pytest could not collect the tests: " + "; ".join(dict.fromkeys([head] + errors))
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["MAX_FUNCTIONS", "MAX_NESTING", "MAX_SOURCE_BYTES", "InputError", "RepairInputs", "collect_tests",
           "load_repair_inputs", "nesting", "pytest_error_line", "read_text", "regression_suite", "suite_from_pytest_args",
           "suite_from_tests_file"]
