"""The judge's side of a judged run (stdlib only; loaded by path by ``_child.py``).

In a judged run the tests execute in the judge, a process that never runs candidate code: each
name the program defines is a :class:`RemoteFunction` that calls into the candidate's own
process (``_candidate_server.py``, a fresh interpreter) and gets back plain values
(``_values.py``).  So the candidate can neither patch the code that decides a verdict nor
forge one: it never sees the tests, their expected values or the event channel.  Only plain
data crosses; an object of the program stays in the candidate's process and the tests hold a
:class:`RemoteObject` for it.  A test that hands the program a function of its own cannot be
judged (see docs/sandbox.md).
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
        self.proxies: dict[int, RemoteObject] = {}  # one stand-in per handle, so ``is`` holds

    def proxy(self, number: int) -> "RemoteObject":
        """The stand-in for the candidate's object ``number``."""
        if number not in self.proxies:
            self.proxies[number] = RemoteObject(self, number)
        return self.proxies[number]

    def refs(self, value) -> int:
        """The handle of a stand-in of this channel; raises UnencodableValue for anything else."""
        if isinstance(value, RemoteObject) and object.__getattribute__(value, "_kelp_remote") is self:
            return object.__getattribute__(value, "_kelp_number")
        raise UnencodableValue(f"a {type(value).__name__} is not plain data", type(value))

    def ask(self, request: dict, args: tuple = ()):
        """Send a request whose reply is a value or an exception the program raised; returns the
        value (handles become stand-ins) or raises that exception (:func:`_exception`). For a
        call with ``args``, list, dict, set and bytearray arguments get the contents the
        candidate left in its copies."""
        reply = self.request(request)
        if "exc" in reply:
            raise _exception(reply["exc"])
        try:
            result = _values.decode(reply["ok"], self.proxy)
            for target, new in zip(args, reply.get("after") or ()):
                if new is not None:
                    _refill(target, _values.decode(new, self.proxy))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProgramGone(f"the program's process sent a malformed value ({exc})") from None
        return result

    def encode(self, value, what: str):
        """``value`` encoded for the candidate; a test's own function or object cannot be:
        :class:`Unjudgeable` (a function of the program: TypeError, the program's decision)."""
        try:
            return _values.encode(value, refs=self.refs)
        except UnencodableValue as exc:
            if exc.value_type is RemoteFunction:  # the program decides what is callable: a failure
                raise TypeError(f"a function of the program cannot be passed to {what} "
                                "in a judged run") from None
            raise Unjudgeable(f"an argument of {what} is not plain data ({exc})") from None

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
        remote = self.remote
        request = {"call": self.name, "args": remote.encode(args, f"{self.name}()"),
                   "kwargs": remote.encode(kwargs, f"{self.name}()")}
        return remote.ask(request, args)

    def __repr__(self) -> str:
        return f"<function {self.name} (candidate process)>"


def _operation(name: str):
    def method(self, *args):
        remote = object.__getattribute__(self, "_kelp_remote")
        return remote.ask({"op": name, "ref": object.__getattribute__(self, "_kelp_number"),
                           "args": remote.encode(args, f"an object's {name}")})
    method.__name__ = f"__{name}__"
    return method


def _comparison(name: str):
    """A comparison made by the program only between its own objects: against plain data it is
    NotImplemented (so ``==`` falls back to identity), or an object whose ``__eq__`` always says
    yes would pass every ``assert f(x) == y``."""
    ask = _operation(name)

    def method(self, other):
        return ask(self, other) if isinstance(other, RemoteObject) else NotImplemented
    method.__name__ = f"__{name}__"
    return method


class RemoteObject:
    """A test's stand-in for an object that lives in the candidate's process: attribute reads,
    calls, ``len``, ``iter`` (a list of the items), ``in``, item access, ``str``/``repr`` and
    truth are asked of the program; comparisons only against another of its objects; hashing
    is by identity (one stand-in per object).  Raises what the program raised."""

    __slots__ = ("_kelp_remote", "_kelp_number")

    def __init__(self, remote: Remote, number: int) -> None:
        object.__setattr__(self, "_kelp_remote", remote)
        object.__setattr__(self, "_kelp_number", number)

    def __getattr__(self, name: str):
        return object.__getattribute__(self, "_kelp_remote").ask(
            {"attr": object.__getattribute__(self, "_kelp_number"), "name": name})

    def __setattr__(self, name: str, value) -> None:
        _operation("setattr")(self, name, value)

    def __delattr__(self, name: str) -> None:
        _operation("delattr")(self, name)

    def __call__(self, *args, **kwargs):
        remote = object.__getattribute__(self, "_kelp_remote")
        request = {"invoke": object.__getattribute__(self, "_kelp_number"),
                   "args": remote.encode(args, "an object's call"), "kwargs": remote.encode(kwargs, "an object's call")}
        return remote.ask(request, args)

    def __iter__(self):
        return iter(_operation("iter")(self))

    __hash__ = object.__hash__
    __eq__, __ne__ = _comparison("eq"), _comparison("ne")
    __lt__, __le__, __gt__, __ge__ = _comparison("lt"), _comparison("le"), _comparison("gt"), _comparison("ge")
    __bool__, __len__, __str__, __repr__ = _operation("bool"), _operation("len"), _operation("str"), _operation("repr")
    __contains__, __getitem__ = _operation("contains"), _operation("getitem")
    __setitem__, __delitem__ = _operation("setitem"), _operation("delitem")


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
            ns[name] = _values.decode(value, remote.proxy)
    for name in loaded.get("callables") or ():
        if allowed(name):
            ns[name] = RemoteFunction(remote, name)
    return ns
