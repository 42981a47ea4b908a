"""The candidate's side of a judged run: a fresh interpreter that loads the program and answers
calls (stdlib only; started by the sandbox worker as ``python -I -B _candidate_server.py R W``
in a confined child, after the kernel layers are in place).

It is a new interpreter, not a fork of the worker, so its memory never held the tests or their
expected values: whatever the program does here, it can only return values, which the judge
(``_judge.py``, another process) compares.  Protocol on fds R (requests) and W (replies):
4-byte big-endian length + JSON.  First request ``{"program", "path", "names"}``, reply
``{"callables": [...], "values": {name: value}}`` or ``{"error": [type, message]}``; then
``{"call": name, "args": value, "kwargs": value}`` -> ``{"ok": value, "after": [...]}`` or
``{"exc": [type, message]}``, where ``after`` holds the new contents of mutable arguments.
A value that is not plain data stays here and crosses as a handle (``_values.py``): the same
object always gets the same number, and the judge may then ask ``{"invoke": n, "args",
"kwargs"}`` (call it), ``{"attr": n, "name": name}`` (read an attribute) or ``{"op": name,
"ref": n, "args": value}`` (one of :data:`OPERATIONS`), each answered like a call.
"""

from __future__ import annotations

import importlib.util
import operator
import os
import struct
import sys
import types

_HEADER = struct.Struct(">I")
#: What the judge may do to an object it holds a handle to, besides calling it and reading an
#: attribute (for tests such as ``assert head.next == other``, ``node.value = 3``, ``len(q)``).
OPERATIONS = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
    "ge": operator.ge, "bool": bool, "len": len, "str": str, "repr": repr, "iter": list,
    "contains": operator.contains, "getitem": operator.getitem, "setitem": operator.setitem,
    "delitem": operator.delitem, "setattr": setattr, "delattr": delattr,
}
MAX_MESSAGE = 64 * 1024 * 1024


def _load_values():
    spec = importlib.util.spec_from_file_location(
        "_kelp_sandbox_values", os.path.join(os.path.dirname(os.path.abspath(__file__)), "_values.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read_exact(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def recv(fd: int):
    """One JSON message from ``fd``; EOFError when the peer is gone."""
    import json

    (size,) = _HEADER.unpack(_read_exact(fd, 4))
    if size > MAX_MESSAGE:
        raise EOFError
    return json.loads(_read_exact(fd, size).decode("utf-8"))


def send(fd: int, values, obj) -> None:
    """Write one JSON message to ``fd``."""
    data = values.dumps(obj)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _describe(exc: BaseException) -> list[str]:
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a broken __str__
        text = ""
    return [type(exc).__name__, text[:500]]


def main() -> None:
    """Serve one program until the judge closes its end."""
    req, rep = int(sys.argv[1]), int(sys.argv[2])
    values = _load_values()
    first = recv(req)
    names = first["names"]
    module = types.ModuleType(names[0])
    module.__file__ = first["path"]
    for name in names:
        sys.modules[name] = module
    try:
        exec(compile(first["program"], first["path"], "exec", dont_inherit=True), module.__dict__)
    except BaseException as exc:  # noqa: BLE001 - every outcome of candidate code is data
        send(rep, values, {"error": _describe(exc)})
        return
    objects: list = []  # handle -> object
    numbers: dict = {}  # id(object) -> handle (the objects are kept, so ids stay unique)

    def refs(value) -> int:
        number = numbers.get(id(value))
        if number is None:
            number = numbers[id(value)] = len(objects)
            objects.append(value)
        return number

    def deref(number: int):
        if not 0 <= number < len(objects):
            raise ValueError("unknown handle")
        return objects[number]

    callables, plain = [], {}
    for name, value in list(vars(module).items()):
        if name.startswith("__") or isinstance(value, types.ModuleType):
            continue
        if callable(value):
            callables.append(name)
        else:
            try:
                plain[name] = values.encode(value, refs=refs)
            except values.UnencodableValue:
                pass
    send(rep, values, {"callables": callables, "values": plain})
    while True:
        try:
            msg = recv(req)
        except EOFError:
            return
        try:
            args = values.decode(msg.get("args", ["l", []]), deref)
            if "call" in msg:
                result = getattr(module, msg["call"])(*args, **values.decode(msg["kwargs"], deref))
            elif "invoke" in msg:
                result = deref(msg["invoke"])(*args, **values.decode(msg["kwargs"], deref))
            elif "attr" in msg:
                result = getattr(deref(msg["attr"]), str(msg["name"]))
            else:
                result = OPERATIONS[msg["op"]](deref(msg["ref"]), *args)
            after = [values.encode(a, refs=refs) if isinstance(a, (list, dict, set, bytearray)) else None
                     for a in args]
            reply = {"ok": values.encode(result, refs=refs), "after": after}
        except BaseException as exc:  # noqa: BLE001
            reply = {"exc": _describe(exc)}
        send(rep, values, reply)


if __name__ == "__main__":
    main()
