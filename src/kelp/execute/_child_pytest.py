"""Pytest inside a sandbox child: collect node ids, or run given node ids streaming outcomes.

Loaded by path (as ``_kelp_sandbox_pytest``) by ``_child.prepare_pytest`` in the worker, after
``pytest`` itself has been imported there; stdlib + pytest only.  The program under test is
already loaded and registered in ``sys.modules`` by ``_child.child_main`` before pytest starts, so
test modules that import it get the candidate, never the file on disk.
"""

from __future__ import annotations

import os
import sys
import time

import pytest

_child = sys.modules["_kelp_sandbox_child"]

BASE_ARGS = ["-q", "--no-header", "--tb=short", "-p", "no:cacheprovider", "-p", "no:randomly",
             "-p", "no:xdist", "-W", "ignore::pytest.PytestConfigWarning"]


class _Streamer:
    """Pytest plugin: one start/end event per test, soft timeout and coverage context per test."""

    def __init__(self, job: dict, send, rec) -> None:
        self.job, self.send, self.rec = job, send, rec
        self.timeout = job["limits"]["test_timeout"]
        self.session = None
        self.current: str | None = None
        self.index = 0
        self.collect_errors: list[str] = []
        self.collected: list[str] | None = None
        self.rootdir: str | None = None

    def pytest_sessionstart(self, session) -> None:
        self.session = session

    # ---- collection
    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.collect_errors.append(_child._cap(report.longreprtext or str(report.longrepr), 2000))

    def pytest_collection_finish(self, session) -> None:
        self.collected = [item.nodeid for item in session.items]
        self.rootdir = str(session.config.rootpath)

    # ---- running
    def pytest_runtest_logstart(self, nodeid, location) -> None:
        self.current, self.t0 = nodeid, time.perf_counter()
        self.status, self.etype, self.message = "pass", None, None
        self.send({"ev": "start", "id": nodeid})
        if self.rec:
            self.rec.begin(self.index)
        _child._arm(self.timeout)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.excinfo is not None and report.failed and self.status == "pass":
            exc = call.excinfo.value
            status, etype, _ = _child._classify(exc)
            self.status = status if call.when == "call" else ("timeout" if status == "timeout" else "error")
            self.etype = etype
            self.message = _child._cap(call.excinfo.exconly())
        elif report.skipped and self.status == "pass" and self.message is None:
            self.message = "skipped: " + _child._cap(str(getattr(report, "longrepr", ""))[-300:])
            self.etype = "Skipped"
        return report

    def pytest_runtest_logfinish(self, nodeid, location) -> None:
        _child._disarm()
        self._end()

    def _end(self) -> None:
        if self.current is None:
            return
        _child._flush()
        self.send({"ev": "end", "test_id": self.current, "status": self.status,
                   "error_type": self.etype, "message": self.message,
                   "seconds": time.perf_counter() - self.t0,
                   "lines": self.rec.lines(self.index) if self.rec else None})
        if self.session is not None and _child._should_stop(self.job, self.status):
            self.session.shouldstop = "kelp: stop after this outcome"
        self.current = None
        self.index += 1


def _node_arg(node_id: str, rootdir: str | None) -> str:
    path, sep, rest = node_id.partition("::")
    if rootdir and not os.path.isabs(path):
        path = os.path.join(rootdir, path)
    return path + sep + rest


def run_pytest(job: dict, tests: list, send, rec) -> None:
    """Collect (``job["op"] == "collect"``) or run ``tests`` ((node id, "") pairs) with pytest."""
    collect_only = job["op"] == "collect"
    rootdir = job.get("rootdir")
    plugin = _Streamer(job, send, rec)
    args = list(BASE_ARGS)
    if rootdir:
        args += ["--rootdir", rootdir]
    if collect_only:
        args += ["--collect-only", *job.get("pytest_args", [])]
    else:
        args += [_node_arg(test_id, rootdir) for test_id, _ in tests]
    try:
        code = pytest.main(args, plugins=[plugin])
    except BaseException as exc:  # noqa: BLE001 - e.g. a late soft-timeout inside pytest itself
        _child._disarm()
        code = f"raised {_child._describe(exc)}"
        if plugin.current is not None:
            plugin.status, plugin.etype = _child._classify(exc)[:2]
            plugin.message = _child._describe(exc)
    _child._disarm()
    plugin._end()
    if collect_only:
        if plugin.collect_errors or plugin.collected is None:
            errors = "\n".join(plugin.collect_errors) or f"pytest exited with code {code}"
            send({"ev": "load_error", "message": "pytest collection failed:\n" + errors})
        else:
            send({"ev": "collected", "ids": plugin.collected, "rootdir": plugin.rootdir})
    elif plugin.index == 0 and tests and int(code if isinstance(code, int) else 3) not in (0, 1):
        send({"ev": "load_error", "message": f"pytest ran no test (exit code {code}); see stdout"})
