"""What ``kelp repair`` is given, read and checked before any search: the program file and its
tests (a file of asserts, a ``check(candidate)`` function or ``test_*`` functions, or pytest
arguments).

Every refusal is an :class:`InputError` (a :class:`~kelp.errors.KelpError`: one line, exit
status 2 on the command line) naming the file and what is wrong with it. Files are checked with
``stat`` before they are read, so a huge or special file is refused without reading it.
"""

from __future__ import annotations

import ast
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from kelp.errors import KelpError
from kelp.execute.suites import TestSuite
from kelp.program.tree import ProgramSyntaxError, functions, parse

#: Largest program (and tests file) `kelp repair` accepts, in bytes, checked with ``stat`` before
#: the file is read: a bigger file is almost certainly not one buggy function plus context, and
#: parsing, localizing and enumerating edits over it would take minutes.
MAX_SOURCE_BYTES = 1_000_000
#: Most functions (and methods, nested included) a program given to `kelp repair` may define.
MAX_FUNCTIONS = 2_000


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
    program's first top-level function; otherwise its top-level asserts, the other top-level
    statements being their setup. Raises :class:`InputError` for an unreadable or unparsable
    file, or one without tests."""
    text = read_text(path, "tests file")
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise InputError(f"{path}:{exc.lineno}: the tests file does not parse ({exc.msg})") from None
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    if any(name.startswith("test") for name in names):
        return TestSuite.from_pytest([str(path.resolve())], program_path=str(program_path.resolve()))
    if "check" in names:
        defined = [n.name for n in ast.parse(program).body if isinstance(n, ast.FunctionDef)]
        if not defined:
            raise InputError("the program defines no function for check(candidate) to test")
        return TestSuite.from_check(text, defined[0])
    asserts = [ast.get_source_segment(text, n) for n in tree.body if isinstance(n, ast.Assert)]
    setup = "\n".join(ast.get_source_segment(text, n) for n in tree.body if not isinstance(n, ast.Assert))
    if not asserts:
        raise InputError(f"{path} has no tests: give assert statements, a check(candidate) function or test_* functions")
    return TestSuite.from_asserts(asserts, setup=setup)


def suite_from_pytest_args(pytest_args: str, program_path: Path, rootdir: Path) -> TestSuite:
    """A pytest suite from a shell-quoted argument string (``"tests/test_mod.py -k clamp"``):
    arguments naming existing files (``path`` or ``path::node``) are made absolute, the others
    (options, ``-k`` expressions) are kept as they are; ``rootdir`` is pytest's rootdir."""
    resolved = [str(Path(a).resolve()) if not a.startswith("-") and Path(a.split("::")[0]).exists() else a
                for a in shlex.split(pytest_args)]
    return TestSuite.from_pytest(resolved, program_path=str(program_path.resolve()), rootdir=str(rootdir))


def load_repair_inputs(file: Path, *, tests: Path | None = None, pytest_args: str | None = None) -> RepairInputs:
    """Read and check the program ``file`` and its tests: exactly one of ``tests`` (a tests file,
    see :func:`suite_from_tests_file`) or ``pytest_args`` (see :func:`suite_from_pytest_args`,
    rooted at the current directory).

    Raises :class:`InputError` when both or neither tests are given, or when the program is
    unreadable (:func:`read_text`), does not parse, defines no function or more than
    :data:`MAX_FUNCTIONS`; and for the tests file's own faults."""
    if (tests is None) == (pytest_args is None):
        raise InputError("give exactly one of --tests FILE or --pytest \"ARGS\"")
    source = read_text(file, "file")
    try:
        tree = parse(source)
    except ProgramSyntaxError as exc:
        raise InputError(f"{file} does not parse: {exc}") from None
    defined = functions(tree)
    if not defined:
        raise InputError(f"{file} defines no function to repair")
    if len(defined) > MAX_FUNCTIONS:
        raise InputError(f"{file} defines {len(defined):,} functions (the limit is {MAX_FUNCTIONS:,})")
    if tests is not None:
        suite = suite_from_tests_file(tests, source, file)
    else:
        suite = suite_from_pytest_args(pytest_args, file, Path.cwd())
    docstrings = [ast.get_docstring(node) or "" for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    return RepairInputs(source, suite, next((d for d in docstrings if d), ""))


def collect_tests(inputs: RepairInputs, sandbox) -> RepairInputs:
    """``inputs`` with a pytest suite collected into concrete tests in ``sandbox`` (a
    :class:`~kelp.execute.sandbox.Sandbox`: collecting imports user code); other suites are
    returned unchanged. Raises :class:`InputError` when pytest collects no test, and the
    sandbox's :class:`~kelp.execute.errors.CollectError` when it cannot collect."""
    if inputs.suite.kind != "pytest":
        return inputs
    suite = sandbox.collect(inputs.source, inputs.suite)
    if not suite.tests:
        raise InputError("pytest collected no tests (do the tests import the program?)")
    return replace(inputs, suite=suite)


__all__ = ["MAX_FUNCTIONS", "MAX_SOURCE_BYTES", "InputError", "RepairInputs", "collect_tests",
           "load_repair_inputs", "read_text", "suite_from_pytest_args", "suite_from_tests_file"]
