"""A map over independent units of work, in this process or on a Ray cluster.

A :class:`Work` names two functions: ``setup(cpus)`` builds what a worker keeps between units
(a sandbox pool of ``cpus`` processes, loaded models) and ``run(state, payload)`` does one unit.
:func:`map_units` yields ``(key, result)`` pairs as units finish, so the caller alone writes the
results (one appended line each) and a rerun can skip the keys already written.

Without Ray the units run here, one after another, with one state. With Ray (:func:`connect`
first) each unit is a Ray task that declares ``num_cpus=cpus``, so Ray never runs more units on a
node than it has CPUs. A worker process builds its state at its first unit and keeps it for the
next ones (Ray reuses worker processes). A unit whose worker process dies (killed, out of
memory, a crash of the interpreter) is retried by Ray up to ``retries`` times; after that its
result is a :class:`Failed` with the reason, and the other units go on. An exception raised by
``run`` itself is not retried (the same input would raise it again): it becomes a
:class:`Failed` at once. An exception of ``setup`` (bad settings, a missing checkpoint) stops the
map and is raised again in the caller.

Ray is imported inside the functions that use it, so importing this module is cheap.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from typing import Any

from kelp.errors import KelpError


class ScaleError(KelpError, RuntimeError):
    """Ray is not installed, or the cluster at the given address cannot be reached."""


@dataclass(frozen=True)
class Work:
    """What every worker does: ``setup(cpus) -> state`` once per worker process (``cpus``: the
    CPUs it was given, e.g. the size of its sandbox pool), then ``run(state, payload) -> result``
    per unit. Both must be module-level functions (or picklable callables), and ``result`` must
    be picklable: Ray ships them between processes."""

    setup: Callable[[int], Any]
    run: Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Failed:
    """The result of a unit that did not finish: ``reason`` says why (the worker died more than
    the allowed retries, or ``run`` raised)."""

    reason: str


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ScaleError("--ray needs Ray: pip install 'kelp[scale]'") from None
    return ray


@contextmanager
def connect(address: str | None, *, cpus: int | None = None):
    """Start a local Ray runtime (``address="local"``, with ``cpus`` CPUs, default all of this
    machine's) or join the cluster at ``address`` (``host:port``, or ``auto``) for the body of
    the ``with``; yields the CPUs the cluster offers. A runtime that this call started is shut
    down at the end; one already running in this process is used and left running.
    ``address=None`` (no ``--ray``) does nothing and yields ``None``, without importing Ray.

    Inside the ``with``, ``sys.stdout`` is this process's stderr: Ray prints its workers' errors
    (a worker that died) on the driver's stdout, and stdout must carry only the command's
    result. Worker output is not forwarded. The caller's SIGTERM handler stays in force (Ray
    would replace it).

    Raises :class:`ScaleError` when Ray is missing or nothing answers at the address (a
    ``host:port`` is tried for 5 s before Ray is asked)."""
    if address is None:
        yield None
        return
    ray = _import_ray()
    with redirect_stdout(sys.stderr):
        started = False
        if not ray.is_initialized():
            import logging

            if address != "local":
                _check_reachable(address)
            options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            handler = _sigterm_handler()
            try:
                if address == "local":
                    ray.init(num_cpus=cpus or os.cpu_count() or 1, **options)
                else:
                    ray.init(address=address, **options)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise ScaleError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None
            finally:  # ray.init sets its own SIGTERM handler (sys.exit); the caller's stays in force
                if handler is not None:
                    signal.signal(signal.SIGTERM, handler)
            started = True
        try:
            yield int(ray.cluster_resources().get("CPU", 0))
        finally:
            if started:
                ray.shutdown()


def _sigterm_handler():
    """The current SIGTERM handler, or ``None`` outside the main thread (where it cannot be set)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.getsignal(signal.SIGTERM)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Raise :class:`ScaleError` at once when nothing accepts a TCP connection at a
    ``host:port`` address (Ray itself would retry for about 20 s); other forms (``auto``,
    ``ray://...``) are left to Ray."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "/" in address:
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ScaleError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None


#: State built by :attr:`Work.setup` in this worker process, by run token.
_STATES: dict[str, Any] = {}


def _run_unit(token: str, work: Work, cpus: int, payload: Any) -> Any:
    """The body of one Ray task: the worker's state for this run (built at its first unit),
    then ``work.run``; an exception of ``run`` comes back as a :class:`Failed`."""
    state = _STATES.get(token)
    if state is None:
        for old in [k for k in _STATES if k != token]:  # a worker reused by a later run
            _close(_STATES.pop(old))
        state = _STATES[token] = work.setup(cpus)
    try:
        return work.run(state, payload)
    except Exception as exc:  # noqa: BLE001 - one unit's error must not stop the map
        return Failed(f"{type(exc).__name__}: {exc}")


def _close(state: Any) -> None:
    close = getattr(state, "close", None)
    if callable(close):
        close()


def map_units(work: Work, units: Iterable[tuple[str, Any]], *, ray: bool = False, cpus: int = 1,
              retries: int = 2, in_flight: int | None = None) -> Iterator[tuple[str, Any]]:
    """Yield ``(key, result)`` for each ``(key, payload)`` of ``units`` as it finishes:
    ``result`` is ``work.run``'s return value or a :class:`Failed`.

    ``ray=False``: here, in order, with one state from ``work.setup(cpus)`` (closed at the end
    when it has a ``close()``). ``ray=True`` (inside :func:`connect`): Ray tasks of ``cpus`` CPUs
    each, in the order they finish, at most ``in_flight`` submitted at once (default twice the
    cluster's CPUs divided by ``cpus``), each retried up to ``retries`` times when its worker
    process dies. Stopping the iteration early does not cancel the units already submitted: they
    end with the Ray runtime that :func:`connect` started, or with this driver on a cluster (Ray
    kills a driver's tasks when it leaves). Cancelling them instead can abort this process:
    with Ray 2.60, a cancelled task whose reply is already on its way fails a check in Ray's
    core ("Tried to complete task that was not pending")."""
    if cpus < 1 or retries < 0:
        raise ValueError("cpus must be >= 1 and retries >= 0")
    if not ray:
        yield from _serial(work, units, cpus)
    else:
        yield from _ray_map(work, units, cpus, retries, in_flight)


def _serial(work: Work, units: Iterable[tuple[str, Any]], cpus: int) -> Iterator[tuple[str, Any]]:
    state = None
    try:
        for key, payload in units:
            if state is None:
                state = work.setup(cpus)
            try:
                result = work.run(state, payload)
            except Exception as exc:  # noqa: BLE001 - as on Ray: recorded, and the map goes on
                result = Failed(f"{type(exc).__name__}: {exc}")
            yield key, result
    finally:
        if state is not None:
            _close(state)


def _ray_map(work: Work, units: Iterable[tuple[str, Any]], cpus: int, retries: int,
             in_flight: int | None) -> Iterator[tuple[str, Any]]:
    ray = _import_ray()
    if not ray.is_initialized():
        raise ScaleError("map_units(ray=True) runs inside kelp.scale.connect(...)")
    remote = ray.remote(_run_unit).options(num_cpus=cpus, max_retries=retries, retry_exceptions=False)
    slots = max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus)
    limit = in_flight or 2 * slots
    token, shared = uuid.uuid4().hex, ray.put(work)
    pending: dict = {}  # submitted refs -> keys; never cancelled (see map_units)
    source = iter(units)
    while True:
        while len(pending) < limit:
            try:
                key, payload = next(source)
            except StopIteration:
                break
            pending[remote.remote(token, shared, cpus, payload)] = key
        if not pending:
            return
        ready, _ = ray.wait(list(pending), num_returns=1)
        ref = ready[0]
        key = pending.pop(ref)
        try:
            result = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # work.setup raised: bad settings, stop
            raise exc.cause if isinstance(exc.cause, BaseException) else exc from None
        except ray.exceptions.RayError as exc:  # the worker died more often than retried
            result = Failed(f"worker lost after {retries} retries: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}")
        yield key, result


__all__ = ["Failed", "ScaleError", "Work", "connect", "map_units"]
