"""The judge's side of a judged run (stdlib only; loaded by path by ``_child.py``).

In a judged run the tests execute in the judge, a process that never runs candidate code: each
name the program defines is a :class:`RemoteFunction` that calls into the candidate's own
process (``_candidate_server.py``, a fresh interpreter) and gets back plain values
(``_values.py``).  So the candidate can neither patch the code that decides a verdict nor
forge one: it never sees the tests, their expected values or the event channel.  The cost is
that only plain data crosses: a test that hands the program a function or gets back an object
of a class fails the judged run (see docs/sandbox.md).
"""

from __future__ import annotations

import ast
import builtins
import re
import sys


_load_sibling = sys.modules["_kelp_sandbox_child"]._load_sibling  # loaded by _child.py, in the worker
_values = _load_sibling("_kelp_sandbox_values", "_values.py")
_server = _load_sibling("_kelp_sandbox_candidate_server", "_candidate_server.py")
SERVER_PATH = _server.__file__
UnencodableValue = _values.UnencodableValue


class ProgramGone(RuntimeError):
    """The candidate's process ended or broke the protocol."""


class Unjudgeable(BaseException):
    """The tests hand the program something that is not plain data (a function, an object), so
    this suite cannot be judged outside the program's process.  A BaseException, so that test
    code catching ``Exception`` does not hide it; the tests, never the program, decide it."""


class Remote:
    """The judge's end of the channel to the candidate's process (``rfd`` replies, ``wfd`` requests)."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd

    def request(self, obj) -> dict:
        """Send one request and wait for its reply; raises :class:`ProgramGone`."""
        try:
            _server.send(self.wfd, _values, obj)
            reply = _server.recv(self.rfd)
        except (EOFError, OSError, ValueError) as exc:
            raise ProgramGone(f"the program's process ended ({type(exc).__name__})") from None
        if not isinstance(reply, dict):
            raise ProgramGone("the program's process broke the protocol")
        return reply


def _exception(described) -> BaseException:
    """A judge-side exception for one the candidate raised: the builtin class of that name, else a
    new Exception subclass with the name (so error types read the same as in-process)."""
    name, message = (list(described) + ["", ""])[:2]
    name = name if isinstance(name, str) and re.fullmatch(r"[A-Za-z_]\w{0,60}", name) else "Exception"
    cls = getattr(builtins, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = type(name, (Exception,), {})
    try:
        return cls(str(message))
    except Exception:  # noqa: BLE001 - a builtin with another signature
        return Exception(f"{name}: {message}")


def _refill(target, new) -> None:
    """Give a mutable argument the contents the candidate left in its copy."""
    if isinstance(target, list):
        target[:] = new
    elif isinstance(target, (dict, set)):
        target.clear()
        target.update(new)
    elif isinstance(target, bytearray):
        target[:] = new


class RemoteFunction:
    """Calls ``name`` in the candidate's process with plain-data arguments; returns its plain
    result, raises what it raised (:func:`_exception`), and copies back the new contents of
    list, dict, set and bytearray arguments.  Raises :class:`Unjudgeable` for arguments that
    are not plain data, :class:`ProgramGone` when the process is gone; a result that is not
    plain data comes back as the program's UnencodableValue error (a failed test)."""

    def __init__(self, remote: Remote, name: str) -> None:
        self.remote, self.name, self.__name__ = remote, name, name

    def __call__(self, *args, **kwargs):
        try:
            request = {"call": self.name, "args": _values.encode(args), "kwargs": _values.encode(kwargs)}
        except UnencodableValue as exc:
            if exc.value_type is RemoteFunction:  # the program decides what is callable: a failure
                raise TypeError(f"a function of the program cannot be passed to {self.name}() "
                                "in a judged run") from None
            raise Unjudgeable(f"an argument of {self.name}() is not plain data ({exc})") from None
        reply = self.remote.request(request)
        if "exc" in reply:
            raise _exception(reply["exc"])
        try:
            result = _values.decode(reply["ok"])
            for target, new in zip(args, reply.get("after") or ()):
                if new is not None:
                    _refill(target, _values.decode(new))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProgramGone(f"the program's process sent a malformed value ({exc})") from None
        return result

    def __repr__(self) -> str:
        return f"<function {self.name} (candidate process)>"


def load(remote: Remote, program: str, path: str, names: list[str]) -> dict:
    """Have the candidate's process load ``program``; returns its reply (``callables``,
    ``values``) or raises RuntimeError with the load error."""
    reply = remote.request({"program": program, "path": path, "names": list(names)})
    if "error" in reply:
        name, message = (list(reply["error"]) + ["", ""])[:2]
        raise RuntimeError(f"{name}: {message}" if message else str(name))
    return reply


def _stdlib_imports(program: str) -> list[ast.stmt]:
    """The program's top-level imports of standard-library modules (safe to run in the judge:
    tests often use a module the program imported, ``math.isclose``)."""
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError):
        return []
    out = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            roots = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots = [node.module.split(".")[0]]
        else:
            continue
        if all(r in sys.stdlib_module_names for r in roots):
            out.append(node)
    return out


def namespace(remote: Remote, program: str, loaded: dict) -> dict:
    """The namespace the tests run in: the program's standard-library imports, its plain
    module-level values, and a :class:`RemoteFunction` for each of its callables.  No name the
    program defines may shadow a builtin or a module the judge imported: otherwise the program
    would compute both sides of ``assert sorted(f(x)) == sorted(y)``."""
    ns: dict = {"__name__": "__kelp_judge__", "__builtins__": builtins}
    for node in _stdlib_imports(program):
        try:
            exec(compile(ast.Module([node], []), "<program imports>", "exec"), ns)
        except Exception:  # noqa: BLE001 - the candidate's process reports its own import errors
            pass
    taken = set(ns) | set(dir(builtins))

    def allowed(name) -> bool:
        return isinstance(name, str) and name not in taken and not name.startswith("__")

    for name, value in (loaded.get("values") or {}).items():
        if allowed(name):
            ns[name] = _values.decode(value)
    for name in loaded.get("callables") or ():
        if allowed(name):
            ns[name] = RemoteFunction(remote, name)
    return ns
