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


def _asserts(node: ast.stmt) -> bool:
    """Whether ``node`` is or holds an ``assert`` (outside nested functions)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Assert):
            return True
        if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(n))
    return False


def replayed(statements: list[ast.stmt], text: str | None = None) -> str:
    """The source of one test of a scenario: ``statements``, whose last one is the test's check,
    with every earlier check replayed for its effects only: an ``assert`` as its expression, a
    statement holding asserts (a loop of them) as itself, each under ``try: ... except
    Exception: pass``.  ``text``: the source the statements were parsed from, to keep their own
    spelling (else they are unparsed)."""
    def source(node: ast.stmt) -> str:
        return (ast.get_source_segment(text, node) if text is not None else None) or ast.unparse(node)

    lines = []
    for node in statements[:-1]:
        if isinstance(node, ast.Assert):
            lines.append(f"try:\n    {ast.unparse(node.test)}\nexcept Exception:\n    pass")
        elif _asserts(node):
            inner = "\n".join("    " + line for line in ast.unparse(node).splitlines())
            lines.append(f"try:\n{inner}\nexcept Exception:\n    pass")
        else:
            lines.append(source(node))
    return "\n".join(lines + [source(statements[-1])])


@dataclass(frozen=True)
class TestSuite:
    """A suite of tests plus how to load the program for them.

    ``setup`` runs once after the program (MBPP ``test_setup_code``; for check suites the check
    source itself, run in a namespace of its own where ``candidate`` is bound to ``entry_point``).
    ``module_names`` are the names under which the program is importable (asserts and check
    suites: placed in ``sys.modules`` before the tests run; pytest suites: names the program is
    served under when no file exists at ``program_path``); the first one names the program file.
    Pytest suites also carry ``program_path`` (the file whose source each candidate replaces:
    whatever name the tests import that file under, they get the candidate, see
    docs/sandbox.md) and ``invocation_dir`` (the directory pytest runs from, as the user's
    own ``pytest`` would; ``None``: the rootdir).
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
    program_path: str | None = None
    invocation_dir: str | None = None

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
        each test.  If the body goes on with other statements after the first assert (loops,
        helper values), each top-level assert and each statement holding asserts (a loop of
        them) is a test that replays the statements before it (:func:`replayed`).  With fewer
        than two such checks the suite has a single test ``check`` that calls
        ``check(candidate)``.
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
        checks = [i for i, s in enumerate(body) if _asserts(s)]
        whole = (TestCase("check", "check(candidate)"),)
        prelude = "" if param == "candidate" else f"{param} = candidate\n"
        if not checks or not isinstance(body[checks[0]], ast.Assert):
            tests = whole
        elif all(isinstance(s, ast.Assert) for s in body[checks[0]:]):
            first = checks[0]
            prelude += "".join(ast.unparse(s) + "\n" for s in body[:first])
            tests = tuple(TestCase(f"check_{i}", prelude + ast.unparse(s))
                          for i, s in enumerate(body[first:]))
        elif len(checks) < 2:
            tests = whole
        else:
            first = checks[0]
            prelude += "".join(ast.unparse(s) + "\n" for s in body[:first])
            tests = tuple(TestCase(f"check_{k}", prelude + replayed(body[first:i + 1]))
                          for k, i in enumerate(checks))
        return cls("check", tests, setup=check_source, entry_point=entry_point)


    @classmethod
    def from_pytest(cls, args: list[str] | str, program_path: str, rootdir: str | None = None,
                    invocation_dir: str | None = None) -> TestSuite:
        """A pytest run of ``args`` (what one would type after ``pytest``) testing the module at
        ``program_path``.

        ``args`` are parsed as pytest parses them (:func:`parse_pytest_args`): option values are
        never taken for paths, paths (and the values of path options such as ``--ignore``) are
        made absolute against ``invocation_dir`` (default: the current directory), and options
        that only write reports, open a debugger or stop the run early are dropped.  ``rootdir``
        (else ``--rootdir`` in ``args``, else the one pytest would choose, :func:`guess_rootdir`)
        is passed to pytest.  Tests stay empty until :meth:`Sandbox.collect`.  ``program_path``
        need not exist (the program is passed to ``Sandbox.run`` as text; a file that does not
        exist is served under ``module_names``, every dotted suffix of its path, see
        :func:`module_names_for`).  The tests run with the invocation directory as their
        current directory when it lies inside the rootdir or the program's project, else the
        rootdir.  Raises :class:`SuiteError` for a non-.py program path, a test path that does
        not exist, an option missing its value, or a rootdir that is not a directory."""
        if isinstance(args, str):
            args = [args]
        program_path = os.path.abspath(program_path)
        if not program_path.endswith(".py"):  # it need not exist: the program is passed as text
            raise SuiteError(f"program path must name a .py file: {program_path}")
        here = os.path.abspath(invocation_dir or os.getcwd())
        parsed = parse_pytest_args(list(args), here)
        if rootdir is None:
            rootdir = parsed.rootdir
        if rootdir is not None:
            rootdir = os.path.abspath(rootdir)
            if not os.path.isdir(rootdir):
                raise SuiteError(f"rootdir is not a directory: {rootdir}")
        else:
            rootdir = guess_rootdir(parsed.paths, here, parsed.inifile)
        project = project_root(program_path)
        inside = [d for d in (rootdir, project) if d]
        cwd = here if invocation_dir is not None and any(_within(here, d) for d in inside) else rootdir
        return cls("pytest", (), pytest_args=parsed.args, rootdir=rootdir,
                   module_names=module_names_for(program_path, rootdir), program_path=program_path,
                   invocation_dir=cwd)


@dataclass(frozen=True)
class PytestArgs:
    """Pytest arguments after :func:`parse_pytest_args`: ``args`` (to pass on, paths absolute),
    ``paths`` (the test paths among them, without ``::`` node parts), ``rootdir`` (the value of
    ``--rootdir``, removed from ``args``), ``inifile`` (the value of ``-c``), ``dropped``."""

    args: tuple[str, ...]
    paths: tuple[str, ...] = ()
    rootdir: str | None = None
    inifile: str | None = None
    dropped: tuple[str, ...] = ()


#: pytest's own options that take a value (the next argument, or joined: ``--tb=short``, ``-kfoo``).
PYTEST_VALUE_OPTIONS = frozenset("""
    -k -m -p -c -o -W -r --maxfail --pdbcls --capture --lfnf --last-failed-no-failures --durations
    --durations-min --verbosity --report-chars --tb --show-capture --color --code-highlight --pastebin
    --junitxml --junit-xml --junitprefix --junit-prefix --pythonwarnings --max-warnings --ignore
    --ignore-glob --deselect --confcutdir --import-mode --doctest-report --doctest-glob --config-file
    --rootdir --basetemp --override-ini --assert --log-level --log-format --log-date-format
    --log-cli-level --log-cli-format --log-cli-date-format --log-file --log-file-mode --log-file-level
    --log-file-format --log-file-date-format --log-auto-indent --log-disable""".split())
#: Options whose value is optional (taken from the next argument unless it starts with ``-``).
PYTEST_OPTIONAL_VALUE = frozenset({"--cache-show", "--debug"})
#: Options whose value is a path, made absolute against the invocation directory.
PYTEST_PATH_OPTIONS = frozenset({"-c", "--config-file", "--rootdir", "--confcutdir", "--ignore",
                                 "--ignore-glob", "--deselect"})
#: Options kelp drops: they write report files, open a debugger, stop a run early (kelp decides
#: when a run stops), need the cache plugin (off in the sandbox), or replace the test run.
PYTEST_DROPPED = frozenset("""
    -x --exitfirst --maxfail --pdb --pdbcls --trace --co --collect-only --collectonly --fixtures
    --funcargs --fixtures-per-test --markers --setup-only --setup-plan -h --help --version -V
    --lf --last-failed --ff --failed-first --nf --new-first --sw --stepwise --sw-skip
    --stepwise-skip --cache-clear --cache-show --lfnf --last-failed-no-failures --junitxml
    --junit-xml --junitprefix --junit-prefix --basetemp --log-file --log-file-mode --log-file-level
    --log-file-format --log-file-date-format --debug --pastebin""".split())


def parse_pytest_args(args: list[str], invocation_dir: str) -> PytestArgs:
    """Split pytest arguments into options and test paths the way pytest's parser does.

    An option of :data:`PYTEST_VALUE_OPTIONS` takes the next argument (or its joined value) as
    its value, never as a path, so ``-k Tail`` selects by keyword; short flags may be grouped
    (``-vsk Tail``).  Every other argument not starting with ``-`` is a test path, optionally
    with ``::`` node parts (``tests/test_x.py::TestA::test_b``), resolved against
    ``invocation_dir`` and checked to exist (unless ``--pyargs`` names modules).  Unknown
    options (of plugins) are passed on as they are.  Raises :class:`SuiteError` for a test path
    that does not exist or an option missing its value."""
    if isinstance(args, str) or not all(isinstance(a, str) for a in args):
        raise SuiteError("pytest arguments must be a list of strings")
    pyargs = "--pyargs" in args
    out: list[str] = []
    paths: list[str] = []
    dropped: list[str] = []
    rootdir = inifile = None
    i = 0

    def resolve(path: str) -> str:
        return os.path.abspath(os.path.join(invocation_dir, path))

    while i < len(args):
        arg = args[i]
        i += 1
        options: list[tuple[str, str | None]] = []
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg.partition("=")
            if eq:
                options.append((name, value))
            elif name in PYTEST_VALUE_OPTIONS:
                if i >= len(args):
                    raise SuiteError(f"pytest option {name} needs a value")
                options.append((name, args[i]))
                i += 1
            elif name in PYTEST_OPTIONAL_VALUE and i < len(args) and not args[i].startswith("-"):
                options.append((name, args[i]))
                i += 1
            else:
                options.append((name, None))
        elif arg.startswith("-") and len(arg) > 1 and arg != "-":
            for j, char in enumerate(arg[1:], 1):
                name = "-" + char
                if name in PYTEST_VALUE_OPTIONS:
                    value = arg[j + 1:]
                    if not value:
                        if i >= len(args):
                            raise SuiteError(f"pytest option {name} needs a value")
                        value = args[i]
                        i += 1
                    options.append((name, value))
                    break
                options.append((name, None))
        else:
            if pyargs:
                out.append(arg)
                continue
            path, sep, rest = arg.partition("::")
            full = resolve(path)
            if not os.path.exists(full):
                raise SuiteError(f"pytest path not found: {path}")
            out.append(full + sep + rest)
            paths.append(full)
            continue
        for name, value in options:
            if name in PYTEST_DROPPED:
                dropped.append(name)
                continue
            if value is not None and name in PYTEST_PATH_OPTIONS:
                path, sep, rest = value.partition("::")
                value = resolve(path) + sep + rest
            if name == "--rootdir":
                rootdir = value
                continue
            if name in ("-c", "--config-file"):
                inifile = value
            out.append(name if value is None else f"{name}={value}" if name.startswith("--") else name + value)
    return PytestArgs(tuple(out), tuple(paths), rootdir, inifile, tuple(dropped))


#: Pytest's configuration files in the order it looks for them in one directory, each with the
#: text that marks it as holding pytest settings ("" : always).
_CONFIG_FILES = (("pytest.toml", ""), (".pytest.toml", ""), ("pytest.ini", ""), (".pytest.ini", ""),
                 ("pyproject.toml", "[tool.pytest"), ("tox.ini", "[pytest]"), ("setup.cfg", "[tool:pytest]"))
#: Files and directories that mark a project's root directory.
PROJECT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git", "pytest.ini", ".pytest.ini",
                   "pytest.toml", ".pytest.toml", "tox.ini")


def _holds(path: str, marker: str) -> bool:
    if not os.path.isfile(path):
        return False
    if not marker:
        return True
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return marker in fh.read()
    except OSError:
        return False


def _ancestors(path: str):
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _locate_config(dirs: list[str]) -> str | None:
    """The directory of the first pytest configuration file found in ``dirs`` and their
    ancestors; else that of the first ``pyproject.toml`` met (pytest's fallback)."""
    pyproject = None
    for d in dirs:
        for base in _ancestors(d):
            for name, marker in _CONFIG_FILES:
                path = os.path.join(base, name)
                if name == "pyproject.toml" and pyproject is None and os.path.isfile(path):
                    pyproject = base
                if _holds(path, marker):
                    return base
    return pyproject


def guess_rootdir(paths: list[str], invocation_dir: str | None = None, inifile: str | None = None) -> str | None:
    """The rootdir pytest chooses for test ``paths`` run from ``invocation_dir`` (its rules:
    the directory of ``-c FILE``; else the nearest ancestor of the paths' common directory with
    a pytest configuration file; else the nearest one with ``setup.py``; else a configuration
    file above any one path, or the first ``pyproject.toml`` met; else the common directory of
    the paths and the invocation directory, unless that is ``/``)."""
    here = os.path.abspath(invocation_dir or os.getcwd())
    if inifile:
        return os.path.dirname(os.path.abspath(inifile))
    existing = [os.path.abspath(p) for p in paths if os.path.exists(p)]
    dirs = [p if os.path.isdir(p) else os.path.dirname(p) for p in existing] or [here]
    ancestor = os.path.commonpath(dirs)
    found = _locate_config([ancestor])
    if found is not None and _holds_config(found):
        return found
    for base in _ancestors(ancestor):
        if os.path.isfile(os.path.join(base, "setup.py")):
            return base
    if dirs != [ancestor]:
        found = _locate_config(dirs) or found
    if found is not None:
        return found
    common = os.path.commonpath([here, ancestor])
    return ancestor if common == os.path.dirname(common) else common


def _holds_config(directory: str) -> bool:
    return any(_holds(os.path.join(directory, name), marker) for name, marker in _CONFIG_FILES)


def project_root(path: str) -> str | None:
    """The nearest ancestor directory of ``path`` holding a project marker
    (:data:`PROJECT_MARKERS`), or None (never ``/`` or the home directory)."""
    home = os.path.expanduser("~")
    for base in _ancestors(os.path.dirname(os.path.abspath(path))):
        if base in ("/", home):
            return None
        if any(os.path.exists(os.path.join(base, m)) for m in PROJECT_MARKERS):
            return base
    return None


def import_name_for(program_path: str) -> tuple[str | None, str]:
    """``(dotted name, directory)``: the name a file is imported under from the directory that
    must be on ``sys.path`` for it, by its packages (directories with ``__init__.py``):
    ``src/pkg/sub/mod.py`` -> ``("pkg.sub.mod", "src")``, ``pkg/__init__.py`` -> ``("pkg", ...)``,
    a file outside any package -> its stem and its directory.  The name is None when a part is
    not an identifier.  Tests may still import a file outside a package under a longer name
    (a namespace package); the sandbox recognises the file whatever the name."""
    directory, filename = os.path.split(os.path.abspath(program_path))
    stem = filename[:-3] if filename.endswith(".py") else filename
    parts = [] if stem == "__init__" else [stem]
    while os.path.isfile(os.path.join(directory, "__init__.py")) and os.path.dirname(directory) != directory:
        parts.insert(0, os.path.basename(directory))
        directory = os.path.dirname(directory)
    name = ".".join(parts)
    return (name if parts and all(p.isidentifier() for p in parts) else None), directory


def module_names_for(program_path: str, rootdir: str | None = None) -> tuple[str, ...]:
    """Every dotted module name a file could be imported as, shortest first.

    With ``rootdir`` the names stop at the rootdir's own directory name (``quixbugs.x.gcd`` for
    rootdir ``.../quixbugs``), so that packages outside the project (say an installed ``kelp``)
    are never shadowed or imported as parents; without it every identifier suffix is used."""
    program_path = os.path.abspath(program_path)
    parts = program_path[:-3].split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts[-1].isidentifier():
        raise SuiteError(f"program file name is not a module name: {program_path}")
    longest = len(parts) - 1
    if rootdir is not None:
        rel = os.path.relpath(os.sep.join(parts), os.path.dirname(os.path.abspath(rootdir)))
        if not rel.startswith(os.pardir):
            longest = min(longest, len(rel.split(os.sep)))
    names = []
    for k in range(1, longest + 1):
        tail = parts[-k:]
        if not all(p.isidentifier() for p in tail):
            break
        names.append(".".join(tail))
    return tuple(names)
