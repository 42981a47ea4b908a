"""Confinement of a sandbox child (stdlib only; loaded by path by ``_child.py``, whose loader it
uses for ``_kernel.py``).

The boundary is the kernel's (``_kernel.py``): the worker's network and PID namespaces (and user
namespace when not root), its memory and pids cgroups and its seccomp filter, and per child a
private uid or no capabilities, no_new_privs and a Landlock domain.  Beneath them: rlimits (CPU
seconds, address space, file size, no core files, process count) and a death signal.  The PEP
578 audit hook (:func:`install_audit_hook`) stays as a source of clear messages ("kelp sandbox:
os.fork is not allowed") for honest mistakes; candidate code can switch it off, so nothing relies
on it.  The worker adds the wall-clock kill and, after every job, the kill of every process left
in its PID namespace.
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
_PRCTL = _LIBC.prctl


_kernel = sys.modules["_kelp_sandbox_child"]._load_sibling("_kelp_sandbox_kernel", "_kernel.py")


#: The environment of every child (the worker sets it once with :func:`set_child_environment`;
#: each child then only points HOME and TMPDIR at its job dir).
CHILD_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
             "PYTHONDONTWRITEBYTECODE": "1",
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


#: Files pytest reads in the ancestors of its arguments to find its configuration.
PYTEST_CONFIG_FILES = ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml",
                       "tox.ini", "setup.cfg")
#: Files and directories that mark a project's root directory (besides pytest's configuration).
PROJECT_MARKERS = ("setup.py", ".git")


def needed_paths(job: dict) -> tuple[str, ...]:
    """Paths a child of ``job`` must read (the Landlock read set): the interpreter and import
    path, the sandbox's own directory (kelp may run from a checkout off the import path), the
    pytest targets, the rootdir, the program's package base and the directory the
    tests run in, and the project of each target and of the program (the nearest ancestor
    holding a pytest configuration file or a project marker, which pytest reads and lists
    while collecting), with the configuration files of the ancestors above it."""
    needed = [p for p in sys.path if p and os.path.isdir(p)]
    needed += sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix})
    needed.append(os.path.dirname(os.path.abspath(__file__)))  # the sandbox's own files (judge's server)
    targets = [p.split("::")[0] for p in job.get("pytest_args", []) if os.path.exists(p.split("::")[0])]
    for key in ("rootdir", "import_base", "invocation_dir"):
        if job.get(key) and os.path.isdir(job[key]):
            targets.append(job[key])
    program = job.get("program_path")
    if program and os.path.isdir(os.path.dirname(program)):
        targets.append(os.path.dirname(program))
    needed += targets
    home = os.path.expanduser("~")
    for target in targets:
        parent, project = os.path.dirname(os.path.abspath(target)), None
        while True:
            found = [f for f in (os.path.join(parent, n) for n in PYTEST_CONFIG_FILES) if os.path.isfile(f)]
            marked = found or any(os.path.exists(os.path.join(parent, m)) for m in PROJECT_MARKERS)
            if marked and project is None and parent not in ("/", home):
                project = parent
                needed.append(parent)
            needed += found
            if parent == os.path.dirname(parent):
                break
            parent = os.path.dirname(parent)
    return tuple(dict.fromkeys(needed))


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


class Layers:
    """The kernel layers this worker applies to each child, built once in the worker by
    :meth:`setup` (see ``_kernel.py``): ``cgroup`` (a ``CgroupJail`` or None), ``seccomp`` (a
    ``SeccompProgram`` or None), ``landlock_abi`` (0 = none), ``namespaces`` (names the worker
    entered), ``errors`` (why a layer is missing), and Landlock rulesets cached by the paths a
    job reads."""

    def __init__(self) -> None:
        self.cgroup = None
        self.seccomp = None
        self.landlock_abi = 0
        self.namespaces: list[str] = []
        self.errors: dict[str, str] = {}
        self.rulesets: dict[tuple, int] = {}
        self.jobs_root: str | None = None
        self.cgroup_limits: tuple[int, int] | None = None
        #: processes of the worker's user namespace that are not the job's (the worker and the
        #: unreaped children of finished jobs), counted by RLIMIT_NPROC beside the job's own
        self.worker_processes = 1
        self.drop_caps = _kernel.capability_sets(0)
        self.keep_read_search = _kernel.capability_sets(1 << CAP_DAC_READ_SEARCH)

    def setup(self, jobs_root: str, name: str, disabled: frozenset[str]) -> None:
        """Build the per-worker layers but the ``disabled`` ones (the worker's
        ``KELP_SANDBOX_DISABLE``; the security tests show each attack works without its layer):
        cgroups named ``kelp-<name>``,
        the seccomp program, the Landlock ABI; ``jobs_root`` is the one directory jobs may
        write under."""
        self.jobs_root = jobs_root
        if "cgroups" not in disabled:
            self.cgroup = _kernel.CgroupJail.create(name)
            if self.cgroup is None:
                self.errors["cgroups"] = "no writable memory+pids cgroup"
            else:
                self.cgroup.enter()
        if "seccomp" not in disabled:  # on the worker itself: every child inherits it by fork
            try:
                self.seccomp = _kernel.SeccompProgram(_kernel.seccomp_program(),
                                                      _kernel.seccomp_syscall_number())
                _PRCTL(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
                self.seccomp.install()
            except (ImportError, OSError, ValueError) as exc:
                self.seccomp = None
                self.errors["seccomp"] = f"{type(exc).__name__}: {exc}"
        if "landlock" not in disabled:
            self.landlock_abi = _kernel.landlock_abi()
            if not self.landlock_abi:
                self.errors["landlock"] = "not available in this kernel"

    def set_limits(self, limits: dict, extra_bytes: int = 0) -> None:
        """Give the worker's cgroups a job's totals (``memory_bytes``, ``processes``) on top of
        what the worker itself holds there: its resident memory plus ``extra_bytes`` (a warm
        pytest session's parent; rounded up to 16 MB steps, so the limit is rewritten rarely)
        and :attr:`worker_processes`."""
        if self.cgroup is None:
            return
        with open("/proc/self/statm") as fh:
            resident = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") + extra_bytes
        step = 16 << 20
        key = (limits["memory_bytes"] + (resident // step + 1) * step, limits["processes"] + self.worker_processes)
        if self.cgroup_limits != key:
            try:
                self.cgroup.limit(*key)
                self.cgroup_limits = key
            except OSError:  # e.g. EBUSY: usage above the new limit for a moment; next job again
                pass

    def ruleset(self, read: tuple[str, ...]) -> int | None:
        """The Landlock ruleset fd for a job that reads ``read`` (cached), or None without Landlock."""
        if not self.landlock_abi:
            return None
        fd = self.rulesets.get(read)
        if fd is None:
            fd = self.rulesets[read] = _kernel.landlock_ruleset(read, (self.jobs_root,), self.landlock_abi)
        return fd

    def active(self) -> dict[str, bool]:
        """Layer name -> whether it is applied to this worker's jobs."""
        return {"namespaces": bool(self.namespaces), "cgroups": self.cgroup is not None,
                "seccomp": self.seccomp is not None, "landlock": bool(self.landlock_abi)}

    def details(self) -> dict[str, str]:
        """Layer name -> a short description of what is in force (for ``kelp doctor``)."""
        out = {"namespaces": ", ".join(self.namespaces) or "none"}
        if self.cgroup is not None:
            out["cgroups"] = f"cgroup v{self.cgroup.version}: memory and pids"
        else:
            out["cgroups"] = "none: the summed memory watchdog bounds a job's total"
        if self.seccomp is not None:
            out["seccomp"] = f"{len(_kernel.DENIED_SYSCALLS)} syscalls refused, sockets AF_UNIX only"
        if self.landlock_abi:
            out["landlock"] = f"ABI {self.landlock_abi}" + (
                ": signals and abstract sockets scoped" if self.landlock_abi >= 6 else "")
        return out


LAYERS = Layers()


def confine(job: dict, jobdir: str, uid: int | None, out_fd: int, ev_fd: int | None,
            keep_read_search: bool = False, ruleset_fd: int | None = None,
            extra_fds: tuple[int, ...] = (), cpu_limit: bool = True, extra_processes: int = 0) -> None:
    """Confine this freshly forked child: own session, fds 0/1/2 (stdin /dev/null, output to
    ``out_fd``), rlimits, the worker's cgroups, a private ``uid`` (root only; with
    CAP_DAC_READ_SEARCH kept iff ``keep_read_search``, see :func:`unreadable_to`) or else no
    capabilities, a death signal, no_new_privs, the Landlock domain ``ruleset_fd`` (the seccomp
    filter comes from the worker, by fork), then every fd closed but ``ev_fd`` and
    ``extra_fds``, the job dir as cwd.  The environment is the
    worker's, scrubbed by :func:`set_child_environment` and pointed at the job dir by
    :func:`enter_job` before the fork.  ``cpu_limit`` False leaves RLIMIT_CPU off (a pytest
    session's parent, which sets it in each child it forks); ``extra_processes`` raises the
    process limit by that many (processes of the same uid that are not the job's).  Raises
    OSError when a layer the worker has cannot be applied (the child then refuses to run the
    candidate)."""
    limits = job["limits"]
    worker = os.getppid()
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    if cpu_limit:
        set_cpu_limit(limits)
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    layers = LAYERS
    if uid is not None:  # RLIMIT_NPROC counts every process of the uid: only meaningful for ours
        n = limits["processes"] + extra_processes
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))
        _drop_privileges(uid, keep_read_search)
    else:
        if "user" in layers.namespaces:  # counted per uid of the worker's own user namespace
            n = limits["processes"] + layers.worker_processes + extra_processes
            resource.setrlimit(resource.RLIMIT_NPROC, (n, n))
        if _kernel.effective_capabilities():
            _kernel.capset(layers.drop_caps)
    _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)  # after the uid change, which clears it
    if os.getppid() != worker:  # the worker died before the death signal was armed
        os._exit(0)
    _PRCTL(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if ruleset_fd is not None:
        _kernel.landlock_restrict(ruleset_fd)
    low = 3  # nothing of the worker's stays reachable but the pipes the job needs
    for fd in sorted(f for f in (ev_fd, *extra_fds) if f is not None):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)
    os.chdir(jobdir)
    sys.dont_write_bytecode = True


def set_cpu_limit(limits: dict) -> None:
    """RLIMIT_CPU of this process: ``limits["cpu_seconds"]`` (SIGXCPU), one more to SIGKILL."""
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _drop_privileges(uid: int, keep_read_search: bool) -> None:
    """Become ``uid``/``uid``, keeping CAP_DAC_READ_SEARCH only if ``keep_read_search``.

    Without it, no capability survives: a change from uid 0 to a set of uids that are all
    nonzero clears every capability (capabilities(7)).  With it, PR_SET_KEEPCAPS keeps the
    permitted set over the change and ``capset`` then cuts it down to that one capability
    (Landlock, where the kernel has it, still limits what it may read)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    keep = keep_read_search and _PRCTL(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0
    os.setresuid(uid, uid, uid)
    if keep:
        _kernel.capset(LAYERS.keep_read_search)


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
        if dir_fd is not None and dir_fd >= 0 and not os.path.isabs(path):
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
                dir_fd = args[2] if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0 else None
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
