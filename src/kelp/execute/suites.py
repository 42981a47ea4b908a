"""Test suites: what a candidate program is checked against.

Three kinds share one shape, a tuple of :class:`TestCase` with stable ids, so that ordering,
per-test outcomes and coverage work the same for all of them:

* ``asserts``: MBPP style (Austin et al. 2021), one test per assert statement, run in the program's
  namespace (asserts call the function by its bare name), after optional setup code;
* ``check``: HumanEval style (Chen et al. 2021), a ``check(candidate)`` function; its top-level
  asserts become one test each when the body is "setup statements, then asserts", else the whole
  ``check(candidate)`` call is one test;
* ``pytest``: test files that import the program as a module; collected once in the sandbox
  (:meth:`kelp.execute.Sandbox.collect`) into concrete node ids, then run by node id.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field

from kelp.execute.errors import SuiteError

KINDS = ("asserts", "check", "pytest")


@dataclass(frozen=True)
class TestCase:
    """One test: ``id`` is stable and unique in its suite (``assert_0``, ``check_2``, a pytest node
    id relative to the rootdir); ``source`` is Python statements for kinds asserts/check and ""
    for pytest."""

    __test__ = False  # not a pytest test class

    id: str
    source: str = ""


@dataclass(frozen=True)
class TestSuite:
    """A suite of tests plus how to load the program for them.

    ``setup`` runs once after the program (MBPP ``test_setup_code``; for check suites the check
    source itself, run in a namespace of its own where ``candidate`` is bound to ``entry_point``).
    ``module_names`` are the names under which the program is importable (placed in
    ``sys.modules`` before any test imports it); the first one names the program file.
    Raises :class:`SuiteError` on an unknown kind, duplicate ids or an empty ``module_names``.
    """

    __test__ = False

    kind: str
    tests: tuple[TestCase, ...] = ()
    setup: str = ""
    entry_point: str | None = None
    pytest_args: tuple[str, ...] = ()
    rootdir: str | None = None
    module_names: tuple[str, ...] = field(default=("candidate",))

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SuiteError(f"unknown suite kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        object.__setattr__(self, "tests", tuple(self.tests))
        object.__setattr__(self, "pytest_args", tuple(self.pytest_args))
        object.__setattr__(self, "module_names", tuple(self.module_names))
        ids = [t.id for t in self.tests]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise SuiteError(f"duplicate test ids in suite: {dup[:5]}")
        if not self.module_names or not all(
            all(part.isidentifier() for part in name.split(".")) for name in self.module_names
        ):
            raise SuiteError(f"module_names must be dotted identifiers, got {self.module_names!r}")
        if self.kind == "check" and not self.entry_point:
            raise SuiteError("a check suite needs entry_point (the name of the function under test)")

    @property
    def ids(self) -> list[str]:
        """Test ids in suite order."""
        return [t.id for t in self.tests]

    def ordered(self, order: list[str] | None = None) -> list[TestCase]:
        """Tests with those named in ``order`` first (in that order), then the rest in suite order.

        Raises :class:`SuiteError` if ``order`` names a test that is not in the suite."""
        if not order:
            return list(self.tests)
        by_id = {t.id: t for t in self.tests}
        unknown = [i for i in order if i not in by_id]
        if unknown:
            raise SuiteError(f"order names tests not in the suite: {unknown[:5]}")
        first = list(dict.fromkeys(order))
        seen = set(first)
        return [by_id[i] for i in first] + [t for t in self.tests if t.id not in seen]

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_asserts(cls, asserts: list[str], setup: str = "") -> TestSuite:
        """MBPP: one test ``assert_<i>`` per statement string in ``asserts``."""
        if isinstance(asserts, str) or not all(isinstance(a, str) for a in asserts):
            raise SuiteError("from_asserts expects a list of assert statement strings")
        return cls("asserts", tuple(TestCase(f"assert_{i}", a) for i, a in enumerate(asserts)),
                   setup=setup or "")

    @classmethod
    def from_check(cls, check_source: str, entry_point: str) -> TestSuite:
        """HumanEval: split ``check(candidate)``'s top-level asserts into tests ``check_<i>``.

        Statements before the first assert (e.g. helper assignments) are repeated at the start of
        each test.  If the body mixes asserts with other statements after the first assert (loops,
        prints), the suite has a single test ``check`` that calls ``check(candidate)``.
        Raises :class:`SuiteError` if the source does not parse or defines no ``check``."""
        try:
            tree = ast.parse(check_source)
        except SyntaxError as exc:
            raise SuiteError(f"check source does not parse: {exc}") from None
        fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
        if fn is None:
            raise SuiteError("check source defines no top-level function check(candidate)")
        param = fn.args.args[0].arg if fn.args.args else "candidate"
        body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
                and not isinstance(s, ast.Pass)]
        first = next((i for i, s in enumerate(body) if isinstance(s, ast.Assert)), None)
        whole = (TestCase("check", "check(candidate)"),)
        if first is None or not all(isinstance(s, ast.Assert) for s in body[first:]):
            tests = whole
        else:
            prelude = "" if param == "candidate" else f"{param} = candidate\n"
            prelude += "".join(ast.unparse(s) + "\n" for s in body[:first])
            tests = tuple(TestCase(f"check_{i}", prelude + ast.unparse(s))
                          for i, s in enumerate(body[first:]))
        return cls("check", tests, setup=check_source, entry_point=entry_point)

    @classmethod
    def from_pytest(cls, args: list[str], program_path: str, rootdir: str | None = None) -> TestSuite:
        """Pytest files/args (made absolute) testing the module at ``program_path``.

        ``module_names`` becomes every dotted suffix of the program path, e.g.
        ``.../quixbugs/python_programs/gcd.py`` -> ``("gcd", "python_programs.gcd",
        "quixbugs.python_programs.gcd", ...)``, stopping at the rootdir's name or the first
        directory that is not an identifier.  Without ``rootdir``, the one pytest would choose
        (:func:`guess_rootdir`).  Tests stay empty until :meth:`Sandbox.collect`.  ``program_path``
        only names the module (the program is passed to ``Sandbox.run`` as text) and need not
        exist.  Raises :class:`SuiteError` for a non-.py program path, a missing test path or
        rootdir."""
        if isinstance(args, str):
            args = [args]
        program_path = os.path.abspath(program_path)
        if not program_path.endswith(".py"):  # it need not exist: the program is passed as text
            raise SuiteError(f"program path must name a .py file: {program_path}")
        out = []
        for arg in args:
            if arg.startswith("-"):
                out.append(arg)
                continue
            path, sep, rest = arg.partition("::")
            if not os.path.exists(path):
                raise SuiteError(f"pytest path not found: {path}")
            out.append(os.path.abspath(path) + sep + rest)
        if rootdir is not None:
            rootdir = os.path.abspath(rootdir)
            if not os.path.isdir(rootdir):
                raise SuiteError(f"rootdir is not a directory: {rootdir}")
        else:
            rootdir = guess_rootdir([a.partition("::")[0] for a in out if not a.startswith("-")])
        return cls("pytest", (), pytest_args=tuple(out), rootdir=rootdir,
                   module_names=module_names_for(program_path, rootdir))


_INI_MARKERS = {"pytest.ini": "", ".pytest.ini": "", "pyproject.toml": "[tool.pytest.ini_options]",
                "tox.ini": "[pytest]", "setup.cfg": "[tool:pytest]"}


def guess_rootdir(paths: list[str]) -> str | None:
    """The rootdir pytest would pick for ``paths`` (simplified): the nearest ancestor of their
    common directory holding a pytest config file, else that common directory itself."""
    if not paths:
        return None
    dirs = [p if os.path.isdir(p) else os.path.dirname(p) for p in map(os.path.abspath, paths)]
    common = os.path.commonpath(dirs)
    here = common
    while True:
        for name, marker in _INI_MARKERS.items():
            path = os.path.join(here, name)
            if os.path.isfile(path):
                try:
                    with open(path, encoding="utf-8", errors="replace") as fh:
                        if marker in fh.read():
                            return here
                except OSError:
                    pass
        parent = os.path.dirname(here)
        if parent == here:
            return common
        here = parent


def module_names_for(program_path: str, rootdir: str | None = None) -> tuple[str, ...]:
    """Every dotted module name a file could be imported as, shortest first.

    With ``rootdir`` the names stop at the rootdir's own directory name (``quixbugs.x.gcd`` for
    rootdir ``.../quixbugs``), so that packages outside the project (say an installed ``kelp``)
    are never shadowed or imported as parents; without it every identifier suffix is used."""
    program_path = os.path.abspath(program_path)
    parts = program_path[:-3].split(os.sep)
    if not parts[-1].isidentifier():
        raise SuiteError(f"program file name is not a module name: {program_path}")
    longest = len(parts) - 1
    if rootdir is not None:
        rel = os.path.relpath(program_path, os.path.dirname(os.path.abspath(rootdir)))
        if not rel.startswith(os.pardir):
            longest = min(longest, len(rel.split(os.sep)))
    names = []
    for k in range(1, longest + 1):
        tail = parts[-k:]
        if not all(p.isidentifier() for p in tail):
            break
        names.append(".".join(tail))
    return tuple(names)
