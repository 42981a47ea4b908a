"""Confinement of a sandbox child (stdlib only; loaded by path by ``_child.py``).

Layered, each layer catching what the one before misses:
1. rlimits: CPU seconds, address space, file size, no core files, process count;
2. as root: a private uid/gid per worker (RLIMIT_NPROC is only enforced for non-root), keeping at
   most CAP_DAC_READ_SEARCH, and only when the interpreter or the test files are unreadable to
   that uid (e.g. a Python under /root); no_new_privs; a death signal if the worker dies;
3. a PEP 578 audit hook (:func:`install_audit_hook`, armed per child) refusing process creation, sockets, ctypes,
   and writes outside the job dir;
4. (in the worker) the wall-clock kill of the whole process group and the reaper of the uid.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys

CAP_DAC_READ_SEARCH = 2
PR_SET_PDEATHSIG, PR_SET_KEEPCAPS, PR_SET_NO_NEW_PRIVS = 1, 8, 38
_LIBC = ctypes.CDLL(None, use_errno=True)
# Looked up once in the worker, so a child does not pay the symbol lookups after every fork.
_PRCTL, _CAPSET = _LIBC.prctl, _LIBC.capset


#: The environment of every child (the worker sets it once with :func:`set_child_environment`;
#: each child then only points HOME and TMPDIR at its job dir).
CHILD_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
             "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
             "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def set_child_environment() -> None:
    """Replace this process's environment with :data:`CHILD_ENV` (called once, in the worker)."""
    os.environ.clear()
    os.environ.update(CHILD_ENV)


def enter_job(jobdir: str) -> None:
    """Point HOME, TMPDIR and ``tempfile`` (if imported) at ``jobdir``.  The worker calls it before each fork
    (the writes cost less there than in the child, which would copy every page they touch) and
    again with its own home right after."""
    os.environ["HOME"] = os.environ["TMPDIR"] = jobdir
    if "tempfile" in sys.modules:  # imported by pytest or coverage; otherwise a child imports it
        sys.modules["tempfile"].tempdir = jobdir  # fresh and reads TMPDIR


def needed_paths(job: dict) -> tuple[str, ...]:
    """Paths a child of ``job`` must read: the import path, pytest targets and the rootdir."""
    needed = [p for p in sys.path if p and os.path.isdir(p)]
    needed += [p.split("::")[0] for p in job.get("pytest_args", []) if os.path.exists(p.split("::")[0])]
    if job.get("rootdir"):
        needed.append(job["rootdir"])
    return tuple(needed)


def unreadable_to(uid: int, paths: tuple[str, ...]) -> bool:
    """True if some of ``paths`` is unreadable (or, for a directory, unsearchable) to ``uid``.

    Answered by a short-lived probe child that takes the uid (``os.access`` checks the real uid),
    so the worker can decide once per set of paths instead of once per candidate."""
    pid = os.fork()
    if pid == 0:
        blind = 1
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            blind = int(any(not os.access(p, os.R_OK | (os.X_OK if os.path.isdir(p) else 0)) for p in paths))
        finally:
            os._exit(blind)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) != 0


def confine(job: dict, jobdir: str, uid: int | None, out_fd: int, ev_fd: int,
            keep_read_search: bool = False) -> None:
    """Confine this freshly forked child: own session, fds 0/1/2 (stdin /dev/null, output to
    ``out_fd``), every other fd closed but ``ev_fd``, rlimits, private ``uid`` (root only; with
    CAP_DAC_READ_SEARCH kept iff ``keep_read_search``, see :func:`unreadable_to`), death signal,
    job dir as cwd.  The environment is the worker's, scrubbed by :func:`set_child_environment`
    and pointed at the job dir by :func:`enter_job` before the fork."""
    limits = job["limits"]
    worker = os.getppid()
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.closerange(3, ev_fd)  # nothing of the worker's stays reachable but the event pipe
    os.closerange(ev_fd + 1, 1 << 16)
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if uid is not None:  # RLIMIT_NPROC counts every process of the uid: only meaningful for ours
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
        _drop_privileges(uid, keep_read_search)
    _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)  # after the uid change, which clears it
    if os.getppid() != worker:  # the worker died before the death signal was armed
        os._exit(0)
    os.chdir(jobdir)
    sys.dont_write_bytecode = True


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


# The capset(2) arguments that keep only CAP_DAC_READ_SEARCH, built once in the worker.
_KEEP_HEADER = _CapHeader(0x20080522, 0)
_KEEP_DATA = (_CapData * 2)()
_KEEP_DATA[0].effective = _KEEP_DATA[0].permitted = 1 << CAP_DAC_READ_SEARCH
_KEEP_ARGS = (ctypes.pointer(_KEEP_HEADER), ctypes.pointer(_KEEP_DATA[0]))


def _drop_privileges(uid: int, keep_read_search: bool) -> None:
    """Become ``uid``/``uid``, keeping CAP_DAC_READ_SEARCH only if ``keep_read_search``.

    Without it, no capability survives: a change from uid 0 to a set of uids that are all
    nonzero clears every capability (capabilities(7)).  With it, PR_SET_KEEPCAPS keeps the
    permitted set over the change and ``capset`` then cuts it down to that one capability."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    keep = keep_read_search and _PRCTL(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0
    os.setresuid(uid, uid, uid)
    if keep and _CAPSET(*_KEEP_ARGS) != 0:
        raise OSError(ctypes.get_errno(), "capset failed; refusing to run with capabilities")
    _PRCTL(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


_BLOCKED = frozenset({
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "subprocess.Popen", "pty.spawn", "socket.connect", "socket.bind", "socket.sendto",
    "ctypes.dlopen", "ctypes.dlsym", "ctypes.call_function",
})
# event -> indices of path arguments that must stay inside the job directory (dir_fd is arg 2+)
_WRITE_EVENTS = {
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.link": (1,),
    "os.symlink": (1,), "os.truncate": (0,), "os.chmod": (0,), "os.chown": (0,), "os.utime": (0,),
    "shutil.rmtree": (0,), "shutil.copyfile": (1,), "shutil.copytree": (1,), "shutil.move": (0, 1),
    "os.mkfifo": (0,), "os.mknod": (0,),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


#: The audit hook's settings: ``root`` (the real path of the job dir; ``None`` leaves the hook
#: dormant, as it is in the worker) and ``private_uid``.  Set in the child by :func:`arm_audit_hook`.
_HOOK = {"root": None, "private_uid": False, "installed": False}


def install_audit_hook() -> None:
    """Install the PEP 578 hook, dormant, once in the worker; every child inherits it and arms it
    with :func:`arm_audit_hook` (an audit hook cannot be removed, so the worker, which must fork
    and write, never arms its own).  Once armed it refuses process creation, sockets, ctypes and
    writes outside the job dir; ``kill(-1)`` is allowed only under a private uid (where it reaches
    nothing but the job's own processes)."""
    busy = [False]
    state = _HOOK

    def inside(path, root, dir_fd=None) -> bool:
        if isinstance(path, int):
            return True
        path = os.fsdecode(path)
        if dir_fd is not None and not os.path.isabs(path):
            path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        real = os.path.realpath(path)
        return real == root or real.startswith(root + os.sep) or real == os.devnull

    def hook(event, args):
        root = state["root"]
        if root is None or busy[0]:
            return
        if event in _BLOCKED:
            raise PermissionError(f"kelp sandbox: {event} is not allowed")
        busy[0] = True
        try:
            if event == "open":
                path, mode, flags = args
                writing = (any(c in mode for c in "wax+") if isinstance(mode, str)
                           else bool((flags or 0) & _WRITE_FLAGS))
                if writing and path is not None and not inside(path, root):
                    raise PermissionError(f"kelp sandbox: writing {path!r} is not allowed")
            elif event in _WRITE_EVENTS:
                dir_fd = args[2] if len(args) > 2 and isinstance(args[2], int) else None
                for i in _WRITE_EVENTS[event]:
                    if i < len(args) and args[i] is not None and not inside(args[i], root, dir_fd):
                        raise PermissionError(f"kelp sandbox: {event} on {args[i]!r} is not allowed")
            elif event in ("os.kill", "os.killpg", "signal.pthread_kill"):
                if event == "os.kill" and args[0] == -1 and state["private_uid"]:
                    return  # reaches only this job's private uid: its own leftovers
                if args[0] not in (os.getpid(), os.getpgid(0)):
                    raise PermissionError(f"kelp sandbox: {event} is not allowed")
        finally:
            busy[0] = False

    sys.addaudithook(hook)
    _HOOK["installed"] = True


def arm_audit_hook(jobdir: str, private_uid: bool) -> None:
    """Arm the hook :func:`install_audit_hook` left dormant, for this child's ``jobdir`` (a real
    path: the worker makes it under its own cwd).  Raises RuntimeError if no hook is installed."""
    if not _HOOK["installed"]:
        raise RuntimeError("no audit hook installed; call install_audit_hook() in the worker first")
    _HOOK["private_uid"] = private_uid
    _HOOK["root"] = jobdir
