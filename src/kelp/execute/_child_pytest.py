"""Pytest inside the sandbox: the program served under its own module name, warm sessions,
per-test events and timeouts.

Loaded by path (as ``_kelp_sandbox_pytest``) by ``_child.prepare_pytest`` in the worker, after
``pytest`` itself has been imported there; stdlib + pytest only.  Tests that select by node id
(``path::Class::test``) are selected among whole collected files in a warm session (a module
whose import was deferred has no children to match there), with pytest's matching rules.
Failure reports are never formatted (kelp reads the exception itself): ``repr_failure`` gives
the crash location and the exception's text.

* :class:`ModuleServer` is a meta-path finder placed first on ``sys.meta_path``.  Whatever name
  the tests import the program's file under (``pkg.mod``, ``pkg`` for ``pkg/__init__.py``, a
  namespace package path), the import system finds the file as usual and the server swaps in a
  loader that executes the candidate's source instead of the file's; everything else, the
  program's own package included, loads from disk.  So a package is imported before its module,
  relative imports and ``__init__.py`` work, and ``__file__`` is the real path.  A file that does
  not exist is served under the suite's ``module_names``.
* :class:`PytestSession` builds pytest's configuration (plugins, ``conftest.py``, ini files),
  starts the session and collects, as ``pytest ARGS`` would.  In a *warm* session (the parent of
  many candidates, see ``zygote_main``) the server is in ``defer`` mode: an import of the
  program raises :class:`Deferred`, so the test modules that import it fail to collect there and
  are collected again, with the candidate, in each forked child; the rest (configuration,
  conftests, plugins, other test modules and what they import) is done once.  A parent that
  never executed the program cannot leak one candidate's state into another's verdict.  When
  the program is imported while pytest configures itself (by a conftest or a plugin), or an
  importer swallows the deferral, the session is *cold*: each candidate runs a whole session.
* :class:`Streamer` is the plugin that reports a start and an end event per test, arms the soft
  per-test alarm only around the setup, call and teardown phases (never around reporting) and
  records per-test coverage.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import io
import linecache
import os
import signal
import sys
import time
import types

import pytest
from _pytest import nodes
from _pytest.config import ConftestImportFailure, UsageError, _prepareconfig
from _pytest.main import Session

_child = sys.modules["_kelp_sandbox_child"]
_confine = sys.modules["_kelp_sandbox_confine"]
_kernel = sys.modules["_kelp_sandbox_kernel"]
_frames = sys.modules["_kelp_sandbox_frames"]

#: Arguments put before the user's: no cache (the project is read-only to a job), no plugins that
#: reorder or distribute tests; the user's own options come after and win where they overlap.
BASE_ARGS = ["-q", "--no-header", "--tb=short", "-p", "no:cacheprovider", "-p", "no:randomly",
             "-p", "no:xdist", "-W", "ignore::pytest.PytestConfigWarning"]
try:
    from _pytest.config import PluginImportFailure
except ImportError:  # older pytest: a plugin that fails to import raises ImportError
    PluginImportFailure = ImportError  # type: ignore[assignment, misc]


class Deferred(BaseException):
    """Raised in a warm session's parent by an import of the program: the importer is collected
    again with the candidate in each child (a BaseException, so ``except Exception`` in a test
    module does not swallow it)."""


class Cold(Exception):
    """The session cannot be kept warm: the program was imported while pytest configured
    itself, or an importer swallowed the deferral."""


class SetupError(Exception):
    """Pytest cannot start or collect: the message is pytest's own report."""


# ------------------------------------------------------------------------------ the program
class ModuleServer:
    """Meta-path finder that serves the job's program for its file (or, when the file does not
    exist, for the suite's ``module_names``).  ``mode``: ``defer`` (raise :class:`Deferred`),
    ``serve`` (execute the candidate) or ``stub`` (a stand-in whose every attribute is a function
    that raises: collection still works when the program does not load).  Records ``served``
    (names the program was imported under), ``elsewhere`` (the program's import name resolved to
    another file), ``failure`` (why the program failed to load) and ``deferrals`` (the module
    frames that were importing it, for :meth:`swallowed`)."""

    def __init__(self, path: str, names, import_name: str | None, virtual: bool) -> None:
        self.path = path
        self.real = os.path.realpath(path)
        self.base = os.path.basename(path)
        self.names = frozenset(names)
        self.import_name = import_name
        self.virtual = virtual
        self.mode = "defer"
        self.source = ""
        self.code = None
        self.why_stub = ""
        self.timeout = 2.0
        self.send = None
        self.served: list[str] = []
        self.elsewhere: dict[str, str] = {}
        self.failure: str | None = None
        self.timed_out = False
        self.deferrals: list[tuple] = []
        self.orphans: dict[str, dict[str, object]] = {}  # package -> {attribute: submodule kept}
        self._busy: set[str] = set()

    def set_program(self, source: str, code, mode: str = "serve", why: str = "") -> None:
        self.source, self.code, self.mode, self.why_stub = source, code, mode, why
        if mode == "serve":
            linecache.cache[self.path] = (len(source), None, source.splitlines(True), self.path)

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy.discard(fullname)
        origin = getattr(spec, "origin", None) if spec is not None else None
        if origin and os.path.basename(origin) == self.base and os.path.realpath(origin) == self.real:
            return self._serve(fullname, spec)
        if spec is None and self.virtual and fullname in self.names:
            spec = importlib.machinery.ModuleSpec(fullname, None, origin=self.path)
            spec.has_location = True
            return self._serve(fullname, spec)
        if origin and fullname == self.import_name and fullname not in self.elsewhere:
            self.elsewhere[fullname] = origin
        if spec is not None and spec.loader is not None and fullname in self.orphans:
            spec.loader = ReattachingLoader(self, spec.loader)
        return spec

    def drop_partial(self) -> None:
        """Remove from ``sys.modules`` the modules that were importing the program when it was
        deferred (each child imports them again, with the candidate), and remember the
        submodules of those packages that finished importing and stay: a package module made
        again gets them back as attributes (:meth:`reattach`), as the first import had set them."""
        partial = {name for name in self.partial_modules() if name}
        for name in partial:
            sys.modules.pop(name, None)
        for name, module in list(sys.modules.items()):
            package, _, attr = name.rpartition(".")
            if package in partial and module is not None:
                self.orphans.setdefault(package, {})[attr] = module

    def reattach(self, module) -> None:
        """Give the package ``module`` its kept submodules as attributes (see :meth:`drop_partial`),
        and point the kept modules' references to the package's unfinished first import (``import
        pkg`` in ``pkg/cli.py``, run while ``pkg/__init__.py`` was importing the program; the
        import system forgot that module when the program's import was deferred) at ``module``,
        which is made again and finished."""
        for attr, child in self.orphans.get(module.__name__, {}).items():
            if not hasattr(module, attr):
                setattr(module, attr, child)
        name = module.__name__
        for kept in {id(m): m for kids in self.orphans.values() for m in kids.values()}.values():
            names = getattr(kept, "__dict__", None)
            if isinstance(names, dict):
                for attr, value in list(names.items()):
                    if isinstance(value, types.ModuleType) and value is not module and \
                            getattr(value, "__name__", None) == name:
                        names[attr] = module

    def _serve(self, fullname, spec):
        if self.mode == "defer":
            frames, frame = [], sys._getframe(1)
            while frame is not None:
                if frame.f_code.co_name == "<module>" and not frame.f_code.co_filename.startswith("<"):
                    frames.append((frame, frame.f_lasti))
                frame = frame.f_back
            self.deferrals.append(tuple(frames))
            raise Deferred(f"{fullname} is imported per candidate")
        spec.loader = CandidateLoader(self, spec.loader)
        return spec

    def swallowed(self) -> bool:
        """True when a module that was importing the program went on running after the
        :class:`Deferred` it got (it caught it): its bindings would be wrong for every candidate."""
        return any(frame.f_lasti != lasti for record in self.deferrals for frame, lasti in record)

    def partial_modules(self) -> set[str]:
        """Names of modules that were importing the program when it was deferred."""
        return {frame.f_globals.get("__name__") for record in self.deferrals for frame, _ in record}

    def invalidate_caches(self) -> None:
        pass


class CandidateLoader(importlib.abc.Loader):
    """Loader that executes the candidate (or the stub) in the module the import system made
    for the program's file; other loader methods (resources, ``is_package``) are the file's."""

    def __init__(self, server: ModuleServer, inner) -> None:
        self.server, self.inner = server, inner

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        server = self.server
        server.served.append(module.__name__)
        if server.mode == "stub":
            _make_stub(module, server.why_stub)
            return
        server.reattach(module)
        if server.send is not None:
            server.send({"ev": "import"})
        _child.push_deadline(server.timeout)
        try:
            exec(server.code, module.__dict__)
        except BaseException as exc:
            if isinstance(exc, _child.TestTimeout):
                server.timed_out = True
                server.failure = f"program did not finish loading within {server.timeout} s (wall clock)"
            elif server.failure is None:
                server.failure = f"program raised {_child._describe(exc)}{_child._where(exc, server.path)}"
            raise
        finally:
            _child.pop_deadline()
            if server.send is not None:
                server.send({"ev": "imported"})

    def get_source(self, fullname):
        return self.server.source

    def get_code(self, fullname):
        return self.server.code

    def get_filename(self, fullname):
        return self.server.path

    def is_package(self, fullname):
        inner = getattr(self.inner, "is_package", None)
        return bool(inner(fullname)) if inner else False

    def __getattr__(self, attr):  # get_resource_reader, get_data, ... of the file's own loader
        if self.inner is None:
            raise AttributeError(attr)
        return getattr(self.inner, attr)


class ReattachingLoader(importlib.abc.Loader):
    """A package's own loader that first gives the new module the submodules kept from the warm
    parent's import (:meth:`ModuleServer.reattach`)."""

    def __init__(self, server: ModuleServer, inner) -> None:
        self.server, self.inner = server, inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module) -> None:
        self.server.reattach(module)
        self.inner.exec_module(module)

    def __getattr__(self, attr):  # is_package, get_resource_reader, ... of the package's loader
        return getattr(self.inner, attr)


def _make_stub(module, why: str) -> None:
    def __getattr__(attr):
        if attr.startswith("__"):
            raise AttributeError(attr)

        def unavailable(*args, **kwargs):
            raise RuntimeError(f"the program failed to load: {why}")

        unavailable.__name__ = attr
        return unavailable

    module.__getattr__ = __getattr__


# ------------------------------------------------------------------------------ the plugin
class Streamer:
    """Pytest plugin: a start and an end event per test, the soft per-test alarm around the
    setup, call and teardown phases only, per-test coverage contexts, and (while a warm session
    collects) which collectors must be collected again per candidate."""

    def __init__(self) -> None:
        self.job: dict = {}
        self.send = None
        self.rec = None
        self.jobdir = None
        self.timeout = 2.0
        self.session = None
        self.server: ModuleServer | None = None
        self.recording = False
        self.plan: list = []  # items and deferred collectors, in collection order
        self.collect_errors: list[str] = []
        self.collected: list[str] | None = None
        self.rootdir: str | None = None
        self.current: str | None = None
        self.deadline: float | None = None
        self.index = 0
        self.ended: set[str] = set()

    def bind(self, job: dict, send, rec, jobdir: str | None) -> None:
        self.job, self.send, self.rec, self.jobdir = job, send, rec, jobdir
        self.timeout = job["limits"]["test_timeout"]
        self.collected = None
        self.current, self.index, self.ended = None, 0, set()

    def pytest_sessionstart(self, session) -> None:
        self.session = session

    # ---- collection
    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector):
        before = len(self.server.deferrals) if self.server is not None else 0
        report = yield
        if self.recording and report.failed and self.server is not None and len(self.server.deferrals) > before:
            report._kelp_deferred = True
            self.plan.append(collector)
        return report

    def pytest_itemcollected(self, item) -> None:
        if self.recording:
            self.plan.append(item)

    def pytest_collectreport(self, report) -> None:
        if report.failed and not getattr(report, "_kelp_deferred", False):
            self.collect_errors.append(_child._cap(report.longreprtext or str(report.longrepr), 3000))

    def pytest_collection_finish(self, session) -> None:
        self.collected = [item.nodeid for item in session.items]
        self.rootdir = str(session.config.rootpath)

    # ---- running
    def pytest_runtest_logstart(self, nodeid, location) -> None:
        self.current, self.t0 = nodeid, time.perf_counter()
        self.deadline = time.monotonic() + self.timeout
        self.status, self.etype, self.message = "pass", None, None
        self.send({"ev": "start", "id": nodeid})
        if self.rec:
            self.rec.begin(self.index)

    def _phase(self):
        if self.deadline is None:  # a phase outside pytest's run protocol: not a test of ours
            return (yield)
        _child.push_deadline(max(self.deadline - time.monotonic(), 0.001))
        try:
            return (yield)
        finally:
            _child.pop_deadline()

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_setup(self, item):
        return (yield from self._phase())

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item):
        return (yield from self._phase())

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_teardown(self, item, nextitem):
        return (yield from self._phase())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        if call.excinfo is not None:  # kelp reads the exception, never pytest's formatted report,
            item.repr_failure = item._repr_failure_py = _short_repr  # which costs ~0.1 s a traceback
        try:
            report = yield
        finally:
            item.__dict__.pop("repr_failure", None)
            item.__dict__.pop("_repr_failure_py", None)
        if call.excinfo is not None and report.failed and self.status == "pass":
            exc = call.excinfo.value
            status, etype, _ = _child._classify(exc)
            self.status = status if call.when == "call" else ("timeout" if status == "timeout" else "error")
            self.etype = etype
            message = "exceeded the wall-clock limit" if status == "timeout" else call.excinfo.exconly()
            message = _child._cap(_child.normalize_message(message, self.jobdir))
            if self.status == "error" and self.server is not None:  # kept whole: the crash line
                message += _child._where(exc, self.server.path)
            self.message = message
        elif report.skipped and self.status == "pass" and self.message is None:
            reason = _child.normalize_message(str(getattr(report, "longrepr", ""))[-300:], self.jobdir)
            self.message = "skipped: " + _child._cap(reason)
            self.etype = "Skipped"
        return report

    def pytest_runtest_logfinish(self, nodeid, location) -> None:
        self._end()

    def _end(self) -> None:
        if self.current is None:
            return
        _child._flush()
        self.send({"ev": "end", "test_id": self.current, "status": self.status,
                   "error_type": self.etype, "message": self.message,
                   "seconds": time.perf_counter() - self.t0,
                   "lines": self.rec.lines(self.index) if self.rec else None})
        self.ended.add(self.current)
        if self.session is not None and _child._should_stop(self.job, self.status):
            self.session.shouldstop = "kelp: stop after this outcome"
        self.current = None
        self.index += 1


def _short_repr(excinfo, style=None) -> str:
    """A failed test's report text: where it failed and the exception, without the traceback."""
    tb = excinfo.tb
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}: " if tb is not None else ""
    return where + excinfo.exconly()


# ------------------------------------------------------------------------------ the session
def _program_path(job: dict, jobdir: str) -> str:
    if job.get("program_path"):
        return os.path.realpath(job["program_path"])
    stem = job["module_names"][0].rsplit(".", 1)[-1]
    return os.path.join(jobdir, f"{stem}.py")


class PytestSession:
    """One pytest session for a job's arguments, program file and rootdir (see the module
    docstring).  :meth:`setup` configures and collects (``deferred``: as a warm parent);
    :meth:`complete` finishes collection with the program served; :meth:`run` runs tests."""

    def __init__(self, job: dict, path: str) -> None:
        self.job = job
        self.path = path
        exists = os.path.isfile(path)
        self.server = ModuleServer(path, job["module_names"], job.get("import_name"), virtual=not exists)
        self.plugin = Streamer()
        self.plugin.server = self.server
        self.config = None
        self.session = None
        self.selectors: list[tuple[str, list[str]]] = []  # node-id arguments (warm sessions)
        self.capture_stopped = False

    # ---- configure and collect
    def setup(self, deferred: bool) -> None:
        """Configure pytest and collect (modify-items and collection-finish hooks wait for
        :meth:`complete`).  Raises :class:`SetupError` (usage errors, a conftest or plugin that
        does not import, a path pytest cannot find), :class:`Cold` (deferred only)."""
        job, server = self.job, self.server
        server.mode = "defer" if deferred else server.mode
        _memoize_rewrites()
        sys.meta_path = _ServerFirst([server] + [f for f in sys.meta_path if not isinstance(f, ModuleServer)])
        extra = [p for p in (job.get("rootdir"), job.get("import_base")) if p and p not in sys.path]
        sys.path[0:0] = extra
        user_args = list(job.get("pytest_args") or ())
        if deferred:  # a node id needs its module collected: select among whole files later
            self.selectors = [_selector(a) for a in user_args if not a.startswith("-") and "::" in a]
            user_args = list(dict.fromkeys(a.split("::", 1)[0] if not a.startswith("-") else a
                                           for a in user_args)) if self.selectors else user_args
        args = list(BASE_ARGS) + user_args
        if job.get("rootdir"):
            args += ["--rootdir", job["rootdir"]]
        here = os.getcwd()
        cwd = job.get("invocation_dir") or job.get("rootdir")
        self.plugin.recording = True
        try:
            if cwd:
                os.chdir(cwd)
            os.environ["PYTEST_VERSION"] = pytest.__version__
            config = self.config = _prepare(args, self.plugin)
            _keep_first(server)
            session = self.session = Session.from_config(config)
            session.exitstatus = 0
            config._do_configure()
            config.hook.pytest_sessionstart(session=session)
            hook, pm = config.hook, config.pluginmanager
            muted = ("pytest_collection_modifyitems", "pytest_collection_finish")
            saved = {name: getattr(hook, name) for name in muted}
            for name, caller in saved.items():  # they run in complete(), over every item
                setattr(hook, name, pm.subset_hook_caller(name, [i.plugin for i in caller.get_hookimpls()]))
            try:
                hook.pytest_collection(session=session)
            finally:
                for name, caller in saved.items():
                    setattr(hook, name, caller)
        except Deferred:
            raise Cold("the program is imported while pytest configures itself") from None
        except ConftestImportFailure as exc:
            raise SetupError(_pytest_report("print_conftest_import_error", exc)
                             or f"ImportError while loading conftest '{exc.path}'") from None
        except UsageError as exc:
            raise SetupError(_pytest_report("print_usage_error", exc)
                             or "ERROR: " + " ".join(map(str, exc.args))) from None
        except PluginImportFailure as exc:
            raise SetupError(_pytest_report("print_plugin_import_error", exc) or str(exc)) from None
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - e.g. an unknown plugin, pytest.exit()
            raise SetupError(f"pytest could not start: {_child._describe(exc)}") from None
        finally:
            self.plugin.recording = False
            os.chdir(here)
        if deferred and server.swallowed():
            raise Cold("a module caught the exception of a deferred import of the program")
        if deferred and self.plugin.collect_errors:  # they do not depend on the program
            raise SetupError("\n".join(self.plugin.collect_errors))
        if deferred:
            server.drop_partial()
        capman = config.pluginmanager.getplugin("capturemanager")
        if deferred and capman is not None:
            capman.stop_global_capturing()  # each child captures into files of its own
            self.capture_stopped = True

    def complete(self) -> list:
        """Collect the deferred collectors again (the program is served now), then run the
        modify-items and collection-finish hooks.  Returns the items; raises
        :class:`SetupError` for collection errors (``self.server.failure`` set when the program
        itself failed to load)."""
        session, config, plugin = self.session, self.config, self.plugin
        if self.capture_stopped:  # as pytest leaves it after loading conftests: started, suspended
            capman = config.pluginmanager.getplugin("capturemanager")
            capman.start_global_capturing()
            capman.suspend_global_capture()
            self.capture_stopped = False
        session.testsfailed = 0
        session.shouldfail = session.shouldstop = False
        session._collection_cache = {}
        items = []
        for entry in plugin.plan:
            if isinstance(entry, nodes.Item):
                items.append(entry)
            else:
                items.extend(session.genitems(entry))
        if plugin.collect_errors:
            raise SetupError("\n".join(plugin.collect_errors))
        if self.selectors:
            items = [item for item in items if any(_selected(item, path, parts) for path, parts in self.selectors)]
        session.items = items
        config.pluginmanager.check_pending()
        config.hook.pytest_collection_modifyitems(session=session, config=config, items=items)
        config.hook.pytest_collection_finish(session=session)
        session.testscollected = len(items)
        return session.items

    def run(self, tests: list) -> None:
        """Run ``tests`` ((node id, "") pairs) in that order; a test the session did not
        collect (its parametrisation came from the program) ends as an error."""
        session, plugin = self.session, self.plugin
        by_id = {item.nodeid: item for item in session.items}
        session.items = [by_id[t] for t, _ in tests if t in by_id]
        session.testsfailed = 0
        session.shouldfail = session.shouldstop = False
        try:
            self.config.hook.pytest_runtestloop(session=session)
        except BaseException as exc:  # noqa: BLE001 - Interrupted/Failed after a stop, pytest.exit()
            _child._disarm()
            stopped = session.shouldstop or session.shouldfail
            if plugin.current is not None and plugin.status == "pass":
                plugin.status, plugin.etype = _child._classify(exc)[:2]
                plugin.message = _child.normalize_message(_child._describe(exc), plugin.jobdir)
            elif not stopped and plugin.index == 0:  # pytest itself broke before any test
                plugin.send({"ev": "load_error", "program": False, "timeout": False,
                             "message": f"pytest stopped before any test ran: {_child._describe(exc)}"})
                return
        _child._disarm()
        plugin._end()
        if session.shouldstop or session.shouldfail:
            return
        for test_id, _ in tests:
            if test_id not in by_id and test_id not in plugin.ended:
                plugin.send({"ev": "start", "id": test_id})
                plugin.send({"ev": "end", "test_id": test_id, "status": "error",
                             "error_type": "NotCollected", "seconds": 0.0, "lines": None,
                             "message": "pytest did not collect this test with this program"})
                if _child._should_stop(self.job, "error"):
                    return


def _selector(arg: str) -> tuple[str, list[str]]:
    """``(real path, names)`` of a node-id argument ``path::Class::test``."""
    path, *parts = arg.split("::")
    return os.path.realpath(path), [p for p in parts if p]


def _selected(item, path: str, parts: list[str]) -> bool:
    """Whether ``item`` is among what the node-id argument ``(path, parts)`` selects, as pytest
    matches node ids: the item's file, then one name per part (a part without ``[...]`` also
    matches every parametrisation of a function)."""
    chain = item.listchain()
    for i, node in enumerate(chain):
        if isinstance(node, nodes.File) and os.path.realpath(str(node.path)) == path:
            below = chain[i + 1:]
            return len(below) >= len(parts) and all(
                part == node.name or part == getattr(node, "originalname", None)
                for part, node in zip(parts, below))
    return False


class _ServerFirst(list):
    """``sys.meta_path`` while a session lives: inserting at the front (as pytest does with its
    assertion-rewriting finder) inserts behind the module server, which must see every import
    first."""

    def insert(self, index, finder) -> None:
        if index == 0 and self and isinstance(self[0], ModuleServer):
            index = 1
        super().insert(index, finder)


def _prepare(args: list[str], plugin):
    """Pytest's configuration for ``args`` with ``plugin`` registered, named ``pytest`` in its
    messages."""
    try:
        return _prepareconfig(args, plugins=[plugin], prog="pytest")
    except TypeError:  # a pytest without the prog parameter
        return _prepareconfig(args, plugins=[plugin])


def _memoize_rewrites() -> None:
    """Keep pytest's assertion-rewritten code of each test module in memory, keyed by the file's
    path, size and modification time: a warm parent rewrites a module once (while its import is
    deferred) and every child reuses the code (pytest's own cache is a file the sandbox cannot
    write)."""
    from _pytest.assertion import rewrite

    original = rewrite._rewrite_test
    if getattr(original, "kelp_memo", False):
        return
    cache: dict[tuple, tuple] = {}

    def memo(fn, config):
        st = os.stat(fn)
        key = (str(fn), st.st_size, st.st_mtime_ns)
        if key not in cache:
            cache[key] = original(fn, config)
        return cache[key]

    memo.kelp_memo = True
    rewrite._rewrite_test = memo


def _keep_first(server: ModuleServer) -> None:
    """Put ``server`` back in front of ``sys.meta_path`` (pytest inserts its assertion-rewriting
    finder first while it configures itself)."""
    if sys.meta_path and sys.meta_path[0] is server:
        return
    sys.meta_path[:] = [server] + [f for f in sys.meta_path if f is not server]


def _pytest_report(printer: str, exc) -> str:
    """Pytest's own text for ``exc``, as ``pytest`` prints it (its ``printer`` function)."""
    import _pytest.config as cfg

    fn = getattr(cfg, printer, None)
    if fn is None:
        return ""
    buf = io.StringIO()
    try:
        fn(exc, file=buf)
    except Exception:  # noqa: BLE001 - a printer of another pytest version
        return ""
    return buf.getvalue().strip()


# ------------------------------------------------------------------------------ one job's child
def _compile_program(job: dict, path: str):
    try:
        return compile(job["program"], path, "exec", dont_inherit=True), None
    except (SyntaxError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def serve_job(run: PytestSession, job: dict, tests: list, send, rec, jobdir: str,
              stub: bool = False) -> dict | None:
    """In a job's child (fresh, or forked from a warm parent): serve ``job``'s program, finish
    collection and either report the collected node ids (``job["op"] == "collect"``) or run
    ``tests``.  ``stub``: serve the stand-in (a collection whose program does not load).
    Returns, after a run, ``{"served": names the program was imported under, "elsewhere":
    {its import name: the other file the tests imported under it}}`` for the "done" event."""
    server, plugin = run.server, run.plugin
    plugin.bind(job, send, rec, jobdir)
    server.send, server.timeout = send, job["limits"]["test_timeout"]
    code, error = _compile_program(job, run.path)
    if stub or code is None:
        server.set_program(job["program"], None, "stub", error or job.get("stub_reason") or "it does not load")
    else:
        server.set_program(job["program"], code, "serve")
    cwd = job.get("invocation_dir") or job.get("rootdir")
    if cwd:
        try:
            os.chdir(cwd)
        except OSError:
            pass
    try:
        if run.session is None:
            run.setup(deferred=False)
        run.complete()
    except (SetupError, Cold) as exc:
        _child._flush()
        program = server.failure is not None
        message = server.failure if program else f"pytest collection failed:\n{exc}"
        send({"ev": "load_error", "message": message, "program": program, "timeout": server.timed_out})
        return None
    except (SystemExit, KeyboardInterrupt) as exc:
        _child._flush()
        send({"ev": "load_error", "program": True, "timeout": False,
              "message": server.failure or f"program raised {_child._describe(exc)}"})
        return None
    if job["op"] == "collect":
        send({"ev": "collected", "ids": plugin.collected or [], "rootdir": plugin.rootdir,
              "served": server.served, "elsewhere": server.elsewhere})
        return None
    send({"ev": "loaded"})
    run.run(tests)
    return {"served": server.served, "elsewhere": server.elsewhere}


def run_pytest(job: dict, tests: list, send, rec, jobdir: str) -> dict | None:
    """A whole pytest session in this (freshly forked, confined) child: the cold path.  Returns
    what to add to the "done" event (see :func:`serve_job`)."""
    run = PytestSession(job, _program_path(job, jobdir))
    return serve_job(run, job, tests, send, rec, jobdir, stub=bool(job.get("stub")))


# ------------------------------------------------------------------------------ warm parent
def _recv_job(sock) -> tuple[dict | None, list[int]]:
    """One job message from the worker: a marker byte carrying the job's fds, then a frame."""
    import socket

    try:
        msg, fds, _flags, _addr = socket.recv_fds(sock, 1, 4)
    except OSError:
        return None, []
    if not msg:
        return None, []
    header = _read_exact(sock.fileno(), 4)
    if header is None:
        return None, fds
    size = int.from_bytes(header, "big")
    body = _read_exact(sock.fileno(), size)
    if body is None:
        return None, fds
    import json

    return json.loads(body.decode("utf-8")), fds


def _read_exact(fd: int, n: int) -> bytes | None:
    data = bytearray()
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def zygote_main(job: dict, sock, jobs_root: str, uid, ruleset_fd) -> None:
    """A warm session's parent (already confined like a job's child, without the CPU limit and
    the audit hook): set the session up with the program deferred, tell the worker how that went
    (``{"mode": "warm" | "cold" | "error", "message": ...}``), then, for each job message, fork a
    child that runs that job and report ``{"pid": P}`` and, once it is gone and every process
    of its uid in reach has been killed, ``{"exit": P, "status": wait status}``.  Never runs
    the program itself.  Returns when the worker closes the socket."""
    write = _frames.write_frame
    fd = sock.fileno()
    run = PytestSession(job, _program_path(job, jobs_root))
    try:
        run.setup(deferred=True)
        hello = {"mode": "warm", "proc_pid": int(os.readlink("/proc/self"))}
    except Cold as exc:
        hello = {"mode": "cold", "message": str(exc)}
    except SetupError as exc:
        hello = {"mode": "error", "message": f"pytest collection failed:\n{exc}"}
    except BaseException as exc:  # noqa: BLE001 - anything else: fall back to whole sessions
        hello = {"mode": "cold", "message": f"setup raised {_child._describe(exc)}"}
    write(fd, hello)
    if hello["mode"] != "warm":
        return
    me = os.getpid()
    while True:
        msg, fds = _recv_job(sock)
        if msg is None or len(fds) != 2:
            for f in fds:
                os.close(f)
            return
        ev_w, out_w = fds
        sys.stdout.flush()
        sys.stderr.flush()
        import gc

        gc.freeze()
        pid = os.fork()
        if pid == 0:
            rc = 70
            try:
                sock.close()
                _grandchild(run, msg, ev_w, out_w, uid, ruleset_fd, me)
                rc = 0
            except BaseException:  # noqa: BLE001 - the child must always leave through _exit
                rc = 71
            finally:
                os._exit(rc)
        os.close(ev_w)
        os.close(out_w)
        write(fd, {"pid": pid})
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except ChildProcessError:
                status = 0
                break
            except InterruptedError:
                continue
        if uid is not None or msg.get("kill_all"):
            try:  # what the job left: every process of this uid that this one may signal
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        write(fd, {"exit": pid, "status": status})


def _grandchild(run: PytestSession, msg: dict, ev_w: int, out_w: int, uid, ruleset_fd, parent: int) -> None:
    """One job in a child of a warm parent: its own process group, output, CPU limit, a Landlock
    domain nested in the parent's (so it cannot signal or trace the parent), its job dir, the
    audit hook, then :func:`serve_job`."""
    job, jobdir, nonce = msg["job"], msg["jobdir"], msg["nonce"]
    held = []

    def send(obj, now: bool = True) -> None:
        obj["k"] = nonce
        held.append(obj)
        if now:
            _child.write_frames(ev_w, held)
            held.clear()

    try:
        os.setsid()
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.close(out_w)
        _confine.set_cpu_limit(job["limits"])
        _confine._PRCTL(_confine.PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(0)
        _confine._PRCTL(_kernel.PR_SET_DUMPABLE, 1, 0, 0, 0)  # the parent is not; the job is as usual
        if ruleset_fd is not None:
            _kernel.landlock_restrict(ruleset_fd)
            os.close(ruleset_fd)
        _confine.enter_job(jobdir)
        os.chdir(jobdir)
        signal.signal(signal.SIGALRM, _child._on_alarm)
        rec = _child.CoverageRecorder(run.path) if job.get("coverage") else None
        _confine.arm_audit_hook(jobdir, uid is not None)
    except BaseException as exc:  # noqa: BLE001 - fail closed, with a readable reason
        send({"ev": "load_error", "message": f"sandbox setup failed: {exc!r}"})
        return
    info = serve_job(run, job, [tuple(t) for t in job["tests"]], send, rec, jobdir, stub=bool(job.get("stub")))
    _child._flush()  # what the job left is killed by the parent once this process is gone
    send({"ev": "done", **(info or {})})
