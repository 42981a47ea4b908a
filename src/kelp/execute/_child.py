"""What runs inside one forked sandbox child: confinement, program loading, tests, events.

Loaded by path by ``_worker.py`` (stdlib only at top level; ``coverage`` and ``pytest`` are
imported lazily and pre-warmed in the worker by :func:`prepare_coverage` / :func:`prepare_pytest`
so that children get them for free after a fork).  The worker injects :func:`write_frames`.

Confinement (rlimits, private uid, audit hook) lives in ``_confine.py``.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.machinery
import importlib.util
import os
import re
import signal
import sys
import time
import types

write_frames = None  # injected by the worker: write_frames(fd, objs)

MESSAGE_CAP = 500
REPR_CAP = 200


def _load_sibling(name: str, filename: str):
    """Load ``filename`` beside this file as module ``name`` (once); the other sandbox modules
    use this one too."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(os.path.dirname(os.path.abspath(__file__)), filename))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_confine = _load_sibling("_kelp_sandbox_confine", "_confine.py")
_asserts = _load_sibling("_kelp_sandbox_asserts", "_asserts.py")


class TestTimeout(BaseException):
    """Raised inside a test by the soft wall-clock alarm (a BaseException so ``except Exception``
    in candidate code does not swallow it; the alarm re-fires every 50 ms in case it is)."""


#: Deadlines (``time.monotonic()``) of the armed alarm, innermost last; empty: disarmed.
_DEADLINES: list[float] = []
#: Directories of the harness (this sandbox, pytest, pluggy, coverage): the alarm never raises
#: while one of their frames runs innermost, so it cannot break pytest's own machinery
#: (reporting, fixture bookkeeping) or kelp's; it re-fires 50 ms later.
HARNESS_DIRS: list[str] = [os.path.dirname(os.path.abspath(__file__)) + os.sep]
_STDLIB = os.path.dirname(os.__file__) + os.sep


def add_harness_dir(path: str) -> None:
    """Count code under directory ``path`` as the harness's (see :data:`HARNESS_DIRS`)."""
    path = os.path.abspath(path).rstrip(os.sep) + os.sep
    if path not in HARNESS_DIRS:
        HARNESS_DIRS.append(path)


def in_harness(frame) -> bool:
    """True when the innermost frame of ``frame``'s stack that is neither the standard library
    nor importlib belongs to the harness (:data:`HARNESS_DIRS`)."""
    prefixes = tuple(HARNESS_DIRS)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(prefixes):
            return True
        if not (name.startswith("<frozen") or (name.startswith(_STDLIB) and "-packages" not in name)):
            return False
        frame = frame.f_back
    return False


def _on_alarm(signum, frame):
    if _DEADLINES and time.monotonic() >= _DEADLINES[-1] - 0.001 and not in_harness(frame):
        raise TestTimeout("wall-clock limit exceeded")


def _set_timer() -> None:
    if _DEADLINES:
        signal.setitimer(signal.ITIMER_REAL, max(_DEADLINES[-1] - time.monotonic(), 0.001), 0.05)
    else:
        signal.setitimer(signal.ITIMER_REAL, 0)


def push_deadline(seconds: float) -> None:
    """Arm the alarm ``seconds`` from now, or keep an earlier deadline already armed (nested:
    an import inside a test keeps the test's own deadline); undo with :func:`pop_deadline`."""
    deadline = time.monotonic() + seconds
    _DEADLINES.append(min(deadline, _DEADLINES[-1]) if _DEADLINES else deadline)
    _set_timer()


def pop_deadline() -> None:
    """Undo the last :func:`push_deadline`: the alarm goes back to the enclosing deadline, or off."""
    if _DEADLINES:
        _DEADLINES.pop()
    _set_timer()


def _arm(seconds: float) -> None:
    _DEADLINES[:] = [time.monotonic() + seconds]
    _set_timer()


def _disarm() -> None:
    _DEADLINES.clear()
    signal.setitimer(signal.ITIMER_REAL, 0)


_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
_TB_LINE = re.compile(r'(File "[^"]*", line )\d+')
_DURATION = re.compile(r"\b\d+\.\d{2,} ?(?:s|ms|us|seconds?)\b")
_JOB_DIR = re.compile(r"/[^\s'\"]*?/kelp-sandbox-[^/\s'\"]+(?:/jobs/[^/\s'\"]+)?")


def normalize_message(text: str | None, jobdir: str | None = None) -> str | None:
    """A test outcome's message with what differs between runs of the same behaviour replaced:
    the job's temp directory (``<tmp>``), object addresses (``0x...``), durations with two or
    more decimals (``<duration>``) and line numbers inside traceback text (``line ?``); the
    trailing `` (line N)`` of an error, which locates the crash, is kept."""
    if not text:
        return text
    if jobdir:
        text = text.replace(jobdir, "<tmp>")
    text = _JOB_DIR.sub("<tmp>", text)
    text = _ADDRESS.sub("0x...", text)
    text = _TB_LINE.sub(r"\1?", text)
    return _DURATION.sub("<duration>", text)


def _cap(text: str, limit: int = MESSAGE_CAP) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _safe_repr(value) -> str:
    try:
        return _cap(repr(value), REPR_CAP)
    except TestTimeout:
        raise
    except BaseException:  # noqa: BLE001 - a broken __repr__ must not hide the failure
        return f"<unrepresentable {type(value).__name__}>"


# ------------------------------------------------------------------------------ warm-up (worker)
def prepare_coverage(home: str) -> None:
    """In the worker: import coverage and exercise it once so children need no lazy imports."""
    if "coverage" in sys.modules:
        return
    import coverage

    add_harness_dir(os.path.dirname(coverage.__file__))
    path = os.path.join(home, "_kelp_cov_warmup.py")
    with open(path, "w") as fh:
        fh.write("def f(x):\n    return x + 1\n")
    rec = CoverageRecorder(path)
    rec.begin(0)
    exec(compile(open(path).read(), path, "exec"), {"__name__": "_kelp_cov_warmup"})
    rec.lines(0)
    rec.cov.stop()
    os.remove(path)


def prepare_judge() -> str:
    """In the worker: load the judge's modules (``_judge.py``) so children get them by fork;
    returns the path of the candidate server script."""
    return _load_sibling("_kelp_sandbox_judge", "_judge.py").SERVER_PATH


def prepare_pytest(home: str) -> None:
    """In the worker: import pytest, all of ``_pytest`` and the installed pytest plugins, run one
    tiny session in-process, and count pytest, pluggy and coverage as the harness (the alarm
    never fires inside them, see :func:`in_harness`)."""
    if "_kelp_sandbox_pytest" in sys.modules:
        return
    import pkgutil

    import _pytest
    import pluggy
    import pytest

    for module in (_pytest, pluggy, pytest):
        add_harness_dir(os.path.dirname(module.__file__))
    for info in pkgutil.walk_packages(_pytest.__path__, "_pytest."):
        try:
            importlib.import_module(info.name)
        except Exception:  # noqa: BLE001 - optional pieces (e.g. pdb integrations) may not import
            pass
    warm = os.path.join(home, "_kelp_pytest_warmup")
    os.makedirs(warm, exist_ok=True)
    with open(os.path.join(warm, "test_kelp_warmup.py"), "w") as fh:
        fh.write("import pytest\n\n@pytest.mark.parametrize('x', [1, 2])\n"
                 "def test_a(x, tmp_path):\n    assert [x] == [1]\n")
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    saved_fds = os.dup(1), os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # a plugin's end-of-session work is not warm-up
    try:
        pytest.main(["-q", "-p", "no:cacheprovider", "--rootdir", warm, warm], plugins=[])
    finally:
        del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
        _flush()
        for fd, saved in zip((1, 2), saved_fds):
            os.dup2(saved, fd)
            os.close(saved)
        os.close(null)
    from importlib.metadata import entry_points

    before = set(sys.modules)
    for entry in entry_points(group="pytest11"):  # the installed plugins' modules, once for every session
        try:
            entry.load()
        except Exception:  # noqa: BLE001 - a broken plugin fails in the session that loads it
            pass
    _quiet_preloaded_rewrites(frozenset(set(sys.modules) - before))
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        if name.startswith(("test_kelp_warmup", "conftest")):
            del sys.modules[name]
    _load_sibling("_kelp_sandbox_pytest", "_child_pytest.py")


def _quiet_preloaded_rewrites(preloaded: frozenset) -> None:
    """Keep pytest from warning that it cannot assertion-rewrite the plugin modules in
    ``preloaded`` (imported by the warm-up, not by the user's run, where pytest would have marked
    them for rewriting before importing them): under ``filterwarnings = error`` the warning
    stops the session."""
    from _pytest.assertion.rewrite import AssertionRewritingHook

    warn = AssertionRewritingHook._warn_already_imported

    def _warn_already_imported(self, name: str) -> None:
        if name not in preloaded:
            warn(self, name)

    AssertionRewritingHook._warn_already_imported = _warn_already_imported


class CoverageRecorder:
    """Per-test line coverage of one program file via coverage.py dynamic contexts (in memory)."""

    def __init__(self, path: str) -> None:
        import coverage

        self.path = path
        self.cov = coverage.Coverage(data_file=None, config_file=False, include=[path],
                                     messages=False)
        self.cov.set_option("run:disable_warnings", [
            "no-data-collected", "module-not-measured", "module-not-imported", "no-ctracer",
            "already-imported", "couldnt-parse"])
        self.cov.start()
        self.cov.switch_context("load")

    def begin(self, index: int) -> None:
        self.cov.switch_context(f"t{index}")

    def lines(self, index: int) -> list[int]:
        data = self.cov.get_data()
        data.set_query_contexts([f"^t{index}$"])
        found: set[int] = set()
        for name in data.measured_files():
            found.update(data.lines(name) or ())
        return sorted(found)


# ------------------------------------------------------------------------------ program loading
class _LinkingLoader:
    """Loader proxy: load a parent package as usual (``inner``; None for a namespace package or
    an empty stand-in), then set the program module as its attribute."""

    def __init__(self, inner, links) -> None:
        self.inner, self.links = inner, links

    def create_module(self, spec):
        create = getattr(self.inner, "create_module", None)
        return create(spec) if create else None

    def exec_module(self, module) -> None:
        if self.inner is not None:
            self.inner.exec_module(module)
        _link(module, self.links)

    def __getattr__(self, attr):  # get_data, is_package, get_source, ... of the real loader
        return getattr(self.inner, attr)


class _ParentLinker:
    """Meta-path finder for the parents of the program's dotted names (``python_programs`` of
    ``python_programs.gcd``).  Parents are imported lazily, only if a test imports them: the real
    package when one exists (its ``__init__`` runs as pytest would run it), else an empty
    stand-in; either way the program module becomes its attribute, so ``import a.b.prog`` works."""

    def __init__(self, links: dict[str, list[tuple[str, str]]]) -> None:
        self.links = links

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.links:
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        if spec is None:
            return importlib.machinery.ModuleSpec(fullname, _LinkingLoader(None, self.links[fullname]),
                                                  is_package=True)
        spec.loader = _LinkingLoader(spec.loader, self.links[fullname])
        return spec


def _link(parent, links) -> None:
    for leaf, child in links:
        if child in sys.modules:
            try:
                setattr(parent, leaf, sys.modules[child])
            except Exception:  # noqa: BLE001 - a parent that refuses attributes keeps working
                pass


def _register(module: types.ModuleType, names) -> None:
    """Make ``module`` importable under every dotted name (``sys.modules``), and link it into
    parent packages: now if they are loaded, else lazily via :class:`_ParentLinker`."""
    links: dict[str, list[tuple[str, str]]] = {}
    for name in names:
        sys.modules[name] = module
        parts = name.split(".")
        for depth in range(1, len(parts)):
            prefix = ".".join(parts[:depth])
            links.setdefault(prefix, []).append((parts[depth], ".".join(parts[: depth + 1])))
    for prefix, pairs in links.items():
        if prefix in sys.modules:
            _link(sys.modules[prefix], pairs)
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _ParentLinker)]
    sys.meta_path.insert(0, _ParentLinker(links))


def _new_module(names, path: str) -> types.ModuleType:
    module = types.ModuleType(names[0])
    module.__file__ = path
    module.__spec__ = importlib.machinery.ModuleSpec(names[0], None, origin=path)
    module.__builtins__ = builtins
    return module


def _where(exc: BaseException, path: str) -> str:
    """`` (line N)``: the line of the innermost frame of the program file ``path`` in ``exc``'s
    traceback ("" if none).  A frame that raised before its body began (on its ``def`` line: a
    RecursionError raised while entering a call, as under a tracer) gives its caller's line, the
    call that recursed."""
    tb, line, caller, entering = exc.__traceback__, None, None, False
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == path:
            caller, line = line, tb.tb_lineno
            entering = code.co_name != "<module>" and tb.tb_lineno == code.co_firstlineno
        tb = tb.tb_next
    if entering and caller is not None:
        line = caller
    return f" (line {line})" if line else ""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit: sys.exit({exc.code!r}) was called"
    text = str(exc)
    return _cap(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


# ------------------------------------------------------------------------------ assert tests
def _explain_compare(text, left, right):
    raise AssertionError(_cap(f"{text} failed: left = {_safe_repr(left)}, right = {_safe_repr(right)}"))


def _explain_value(text, value):
    raise AssertionError(_cap(f"{text} failed: got {_safe_repr(value)}"))


def _compile_test(source: str, filename: str):
    """Compile test statements, rewriting each top-level ``assert`` without a message so that a
    failure reports the values (``assert f(1) == 2`` -> ``... left = 3, right = 2``)."""
    tree = _asserts.rewrite_asserts(source, filename)
    return compile(tree, filename, "exec", dont_inherit=True)


def _classify(exc: BaseException) -> tuple[str, str, str]:
    if isinstance(exc, TestTimeout):
        return "timeout", "Timeout", "exceeded the wall-clock limit"
    status = "fail" if isinstance(exc, AssertionError) else "error"
    return status, type(exc).__name__, _describe(exc) if status == "error" else _cap(str(exc))


def compile_tests(tests, cache: dict) -> dict:
    """Compile statement tests ahead of the fork: ``{test_id: code}`` for those that compile.

    Called in the worker, so every child of a task shares one compilation; ``cache`` maps
    (test_id, source) to code and is cleared when it grows past 4096 entries.  A test that does
    not compile is left out, and the child reports its error when it compiles it again."""
    if len(cache) > 4096:
        cache.clear()
    out = {}
    for test_id, source in tests:
        key = (test_id, source)
        if key not in cache:
            try:
                cache[key] = _compile_test(source, f"<test {test_id}>")
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                cache[key] = None
        if cache[key] is not None:
            out[test_id] = cache[key]
    return out


def _run_statement_tests(job, tests, ns, path, send, rec, compiled) -> None:
    timeout = job["limits"]["test_timeout"]
    ns["__kelp_explain_compare__"] = _explain_compare
    ns["__kelp_explain_value__"] = _explain_value
    for index, (test_id, source) in enumerate(tests):
        send({"ev": "start", "id": test_id}, now=True)
        if rec:
            rec.begin(index)
        t0 = time.perf_counter()
        status, etype, message = "pass", None, None
        try:
            try:
                code = compiled.get(test_id) or _compile_test(source, f"<test {test_id}>")
                _arm(timeout)
                exec(code, ns)
            finally:
                _disarm()
        except BaseException as exc:  # noqa: BLE001 - every outcome of candidate code is data
            status, etype, message = _classify(exc)
            if status == "error":
                message += _where(exc, path)
        seconds = time.perf_counter() - t0
        _flush()
        send({"ev": "end", "test_id": test_id, "status": status, "error_type": etype,
              "message": normalize_message(message), "seconds": seconds,
              "lines": rec.lines(index) if rec else None},
             now=False)  # written with the next test's "start" or with "done"
        if _should_stop(job, status):
            return


def _should_stop(job: dict, status: str) -> bool:
    """Stop after this outcome? (any failure with stop_on_first_failure; a timeout unless the job
    continues after timeouts, so a hung candidate costs one timeout, not one per test)."""
    if status == "pass":
        return False
    return job["stop_on_first_failure"] or (status == "timeout" and not job["continue_after_timeout"])


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - the candidate may have closed or replaced it
            pass


# ------------------------------------------------------------------------------ entry point

class _Loading:
    """The stage a program's loading has reached (named in load-error messages)."""

    stage = "program"


def _load_program(job, code, path, names, judge, loading: _Loading) -> dict:
    """Execute the program (or, for a judge, connect to the candidate process that runs it), run
    the job's setup and bind ``candidate`` to its entry point, under the per-test alarm.
    Returns the namespace the tests run in. Raises whatever the program, the setup or a missing
    entry point raised (``loading.stage`` says which), or TestTimeout."""
    _arm(job["limits"]["test_timeout"])
    try:
        if code is None:
            raise SyntaxError("the program does not compile")
        if judge is not None:
            judging = sys.modules["_kelp_sandbox_judge"]
            remote = judging.Remote(*judge)
            program_ns = judging.namespace(remote, job["program"], judging.load(remote, job["program"], path, names))
        else:
            module = _new_module(names, path)
            _register(module, names)
            exec(code, module.__dict__)
            program_ns = module.__dict__
        loading.stage = "setup"
        ns = program_ns
        if job["kind"] == "check":
            ns = {"__name__": "__kelp_check__", "__builtins__": builtins}
        if job.get("setup"):
            exec(compile(job["setup"], "<setup>", "exec", dont_inherit=True), ns)
        if job.get("entry_point"):
            loading.stage = "entry point"
            if job["entry_point"] not in program_ns:
                raise NameError(f"the program does not define {job['entry_point']!r}")
            ns["candidate"] = program_ns[job["entry_point"]]
        return ns
    finally:
        _disarm()


def child_main(job, code, path, jobdir, tests, ev_fd, out_fd, uid, keep_read_search=False,
               compiled=None, ruleset_fd=None, nonce="", judge=None) -> None:
    """Run ``tests`` (list of (id, source)) of ``job`` in this freshly forked process.

    ``compiled`` maps test ids to code objects compiled by the worker (:func:`compile_tests`);
    ``keep_read_search`` and ``ruleset_fd`` are passed on to :func:`_confine.confine`; every
    event carries ``nonce`` (key ``"k"``), without which the worker refuses it.  With ``judge``
    (the fds (replies, requests) of a candidate process, see ``_judge.py``) this process is the
    judge: it never runs the program, whose names call into that process."""

    held = []

    def send(obj, now: bool = True) -> None:
        """Queue an event; write it and every queued one at once when ``now`` (events that are
        always followed at once by another are sent with ``now=False``: one write and one wake-up
        of the worker instead of two)."""
        obj["k"] = nonce
        held.append(obj)
        if now:
            write_frames(ev_fd, held)
            held.clear()

    try:
        _confine.confine(job, jobdir, uid, out_fd, ev_fd, keep_read_search, ruleset_fd, judge or ())
        signal.signal(signal.SIGALRM, _on_alarm)
        rec = CoverageRecorder(path) if job.get("coverage") and job["op"] == "run" else None
        _confine.arm_audit_hook(jobdir, uid is not None)
    except BaseException as exc:  # noqa: BLE001 - fail closed, with a readable reason
        send({"ev": "load_error", "message": f"sandbox setup failed: {exc!r}"})
        return
    info = None
    if job["kind"] == "pytest":  # the program is served when the tests import it
        info = sys.modules["_kelp_sandbox_pytest"].run_pytest(job, tests, send, rec, jobdir)
    else:
        names = job["module_names"]
        loading = _Loading()
        try:
            ns = _load_program(job, code, path, names, judge, loading)
        except BaseException as exc:  # noqa: BLE001
            why = f"{loading.stage} raised {_describe(exc)}{_where(exc, path)}"
            if isinstance(exc, TestTimeout):
                why = f"{loading.stage} did not finish loading within {job['limits']['test_timeout']} s (wall clock)"
            _flush()
            send({"ev": "load_error", "message": why, "timeout": isinstance(exc, TestTimeout)})
            return
        send({"ev": "loaded"}, now=False)  # statement tests start at once
        _run_statement_tests(job, tests, ns, path, send, rec, compiled or {})
    _flush()
    if uid is not None:  # reap anything the program left under this uid, before saying done
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    send({"ev": "done", **(info or {})})
