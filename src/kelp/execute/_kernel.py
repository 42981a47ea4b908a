"""Kernel layers of the sandbox: namespaces, cgroups, Landlock, seccomp, capabilities.

Stdlib only at top level (loaded by path by ``_confine.py``); ``pyseccomp`` (ctypes bindings of
libseccomp) is imported when a filter is built.  Every layer is tried when a worker starts, never
assumed: on a kernel or machine that lacks one the others still apply, and the worker reports
which are in force (``kelp doctor`` prints it).  What each layer stops is in docs/sandbox.md.

Per worker (set once, inherited by every job's child):
* a network namespace with no interface (not even a loopback that is up): no network at all;
* a PID namespace whose init is the worker: ``kill(-1)`` from the worker ends every process a
  job left behind, and if the worker dies the kernel kills every process of the namespace;
* as non-root, a user namespace (needed to create the other two without privileges);
* a memory and a pids cgroup (v2, else v1) that the worker enters, so each job's child is born
  inside: limits for the job and everything it starts;
* a seccomp filter on the worker itself, inherited by every child, refusing the syscalls that
  reach kernel attack surface or other processes.
Per job (in the child, before any candidate code):
* no capabilities (a private uid when root), ``PR_SET_NO_NEW_PRIVS``;
* a Landlock domain: write only under the worker's job directory, read only the interpreter,
  the import path, the test files and a short list of system files; no TCP; no signals or
  abstract unix sockets outside the domain (ABI >= 6).
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.syscall.restype = ctypes.c_long

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP = 0x08000000, 0x04000000, 0x02000000
PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 4, 38, 22, 2

# ---------------------------------------------------------------------------------- namespaces


def unshare(flags: int) -> None:
    """unshare(2); raises OSError."""
    if _LIBC.unshare(ctypes.c_int(flags)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def enter_worker_namespaces() -> list[str]:
    """Move this process into new network and PID namespaces (and, when not root, a new user
    namespace that maps its own uid and gid to themselves).  Returns the names of the namespaces
    entered; raises OSError when the kernel refuses.  The caller must fork next: the PID
    namespace holds only the children created after this call (the first becomes its init)."""
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    names = ["net", "pid", "ipc", "uts"]
    if uid != 0:
        _LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # /proc/self/*_map belong to root otherwise
        unshare(CLONE_NEWUSER | flags)
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
        names.insert(0, "user")
    else:
        unshare(flags)
    return names


# ---------------------------------------------------------------------------------- cgroups


class CgroupJail:
    """A memory and a pids cgroup for one worker and its jobs (cgroup v2, else v1).

    The worker moves itself in once (:meth:`enter`), so every child is born inside: moving a
    process between cgroups costs far more than a fork (the kernel waits for an RCU grace
    period), so children never move.  ``limit(memory_bytes, processes)`` sets both limits;
    ``kill()`` SIGKILLs every process inside but the caller; ``remove()`` kills, leaves and
    deletes the cgroups.  :meth:`create` returns None where no writable hierarchy exists (not
    root, or no controllers delegated)."""

    def __init__(self, dirs: dict[str, str], version: int) -> None:
        self.dirs, self.version = dirs, version

    def enter(self) -> None:
        """Move this process in (its children are then born inside)."""
        for d in self.dirs.values():
            _write(os.path.join(d, "cgroup.procs"), "0")

    def leave(self) -> None:
        """Move this process back to the parent cgroups."""
        for d in self.dirs.values():
            try:
                _write(os.path.join(os.path.dirname(d), "cgroup.procs"), "0")
            except OSError:
                pass

    @staticmethod
    def paths(name: str) -> dict[str, str]:
        """Where :meth:`create` puts the cgroups named ``kelp-<name>`` of this process's
        children: controller ("unified" on v2) -> directory; {} when unknown."""
        own = {}
        try:
            with open("/proc/self/cgroup") as fh:
                for line in fh:
                    _, ctrls, path = line.rstrip("\n").split(":", 2)
                    for c in ctrls.split(",") if ctrls else [""]:
                        own[c] = path
        except OSError:
            return {}
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers") and "" in own:  # pure v2
            return {"unified": os.path.join("/sys/fs/cgroup" + own[""], f"kelp-{name}")}
        return {c: os.path.join(f"/sys/fs/cgroup/{c}" + own[c], f"kelp-{name}")
                for c in ("memory", "pids") if c in own}

    @classmethod
    def create(cls, name: str) -> CgroupJail | None:
        """Make ``kelp-<name>`` cgroups beside this process's own; None when impossible."""
        paths = cls.paths(name)
        made: dict[str, str] = {}
        try:
            if "unified" in paths:
                d = made["unified"] = paths["unified"]
                os.mkdir(d)
                if not all(os.path.exists(os.path.join(d, f)) for f in ("memory.max", "pids.max")):
                    raise OSError(errno.ENOTSUP, "memory/pids controllers not delegated")
                return cls(made, 2)
            for ctrl in ("memory", "pids"):
                if ctrl not in paths or not os.path.isdir(f"/sys/fs/cgroup/{ctrl}"):
                    raise OSError(errno.ENOENT, f"no v1 {ctrl} hierarchy")
                os.mkdir(paths[ctrl])
                made[ctrl] = paths[ctrl]
            return cls(made, 1)
        except OSError:
            for d in made.values():
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            return None

    def limit(self, memory_bytes: int, processes: int) -> None:
        """Set the total memory (bytes) and process count of everything inside."""
        if self.version == 2:
            d = self.dirs["unified"]
            _write(os.path.join(d, "memory.max"), str(memory_bytes))
            _write(os.path.join(d, "pids.max"), str(processes))
            try:
                _write(os.path.join(d, "memory.swap.max"), "0")
            except OSError:
                pass
        else:
            _write(os.path.join(self.dirs["memory"], "memory.limit_in_bytes"), str(memory_bytes))
            _write(os.path.join(self.dirs["pids"], "pids.max"), str(processes))

    def pids(self) -> list[int]:
        """Pids of every process inside (as this process's PID namespace numbers them)."""
        found: set[int] = set()
        for d in self.dirs.values():
            try:
                with open(os.path.join(d, "cgroup.procs")) as fh:
                    found.update(int(x) for x in fh.read().split())
            except OSError:
                pass
        return sorted(found)

    def kill(self) -> None:
        """SIGKILL every process inside but this one (each listed pid, repeatedly, so that
        processes forked meanwhile go too)."""
        me = os.getpid()
        for _ in range(50):
            pids = [p for p in self.pids() if p != me]
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass

    def remove(self) -> None:
        """Kill what is inside, leave, and delete the cgroups (best effort)."""
        self.kill()
        self.leave()
        for d in self.dirs.values():
            try:
                os.rmdir(d)
            except OSError:
                pass


def remove_cgroups(name: str) -> None:
    """Delete the (empty) cgroups ``kelp-<name>`` of a worker that died without removing them;
    the host calls it after the worker's processes are gone.  Best effort."""
    import time

    left = [d for d in CgroupJail.paths(name).values() if os.path.isdir(d)]
    for _ in range(40):  # the namespace's last processes may still be exiting: wait up to 1 s
        for d in list(left):
            try:
                os.rmdir(d)
                left.remove(d)
            except FileNotFoundError:
                left.remove(d)
            except OSError:
                pass
        if not left:
            return
        time.sleep(0.025)


def _pss(pid: int) -> int:
    """Proportional set size of ``pid`` in bytes (shared pages split among their sharers, so the
    forks of one interpreter are not counted many times over); 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def descendants_memory(pid: int) -> int:
    """Memory, in bytes, of every descendant of ``pid`` (a pid as /proc numbers it; found through
    ``/proc/PID/task/TID/children``), as summed proportional set sizes: the watchdog used where
    no memory cgroup can be had.  Processes that vanish meanwhile count as 0."""
    total, stack, seen = 0, [pid], {pid}
    while stack:
        parent = stack.pop()
        try:
            tids = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{parent}/task/{tid}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
            except (OSError, ValueError):
                continue
            for kid in kids:
                if kid in seen:
                    continue
                seen.add(kid)
                stack.append(kid)
                total += _pss(kid)
    return total


# ---------------------------------------------------------------------------------- Landlock
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
# access rights by the ABI version that introduced them (landlock(7))
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1, 2, 4, 8
_FS_ABI1 = (1 << 13) - 1
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FILE_ONLY = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2

#: System paths every job may read (and execute): the C library, the loader's cache, time zones,
#: name-service files without secrets, random devices, its own /proc.
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/ld.so.cache",
               "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/timezone",
               "/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/hosts", "/etc/mime.types",
               "/etc/ssl", "/etc/os-release", "/proc", "/sys/devices/system/cpu",
               "/dev/urandom", "/dev/random", "/dev/zero", "/dev/full")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is unavailable or disabled."""
    v = _LIBC.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                      ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    return int(v) if v > 0 else 0


def _fs_rights(abi: int) -> int:
    rights = _FS_ABI1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def landlock_ruleset(read: tuple[str, ...], write: tuple[str, ...], abi: int) -> int:
    """Create a Landlock ruleset fd: everything under ``write`` may be read, written, created
    and removed; everything under ``read`` (and :data:`SYSTEM_READ`) may be read and executed;
    nothing else on the filesystem; no TCP bind/connect (ABI >= 4); no signals to, or abstract
    unix sockets of, processes outside the domain (ABI >= 6).  Paths that do not exist are
    skipped.  Raises OSError when the kernel refuses the ruleset.  Apply with :func:`landlock_restrict`."""
    handled = _fs_rights(abi)
    attr = struct.pack("<Q", handled)
    if abi >= 4:
        attr += struct.pack("<Q", NET_BIND_TCP | NET_CONNECT_TCP)
    if abi >= 6:
        attr += struct.pack("<Q", SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL)
    buf = ctypes.create_string_buffer(attr, len(attr))
    fd = _LIBC.syscall(_SYS_CREATE_RULESET, buf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    fd = int(fd)
    readable = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
    rules = [(p, readable) for p in SYSTEM_READ + tuple(read)] + [(p, handled) for p in write]
    rules.append(("/dev/null", FS_READ_FILE | FS_WRITE_FILE | (FS_TRUNCATE if abi >= 3 else 0)))
    for path, access in rules:
        try:
            pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if not os.path.isdir(f"/proc/self/fd/{pfd}"):
                access &= _FILE_ONLY
            rule = ctypes.create_string_buffer(struct.pack("<Qi", access & handled, pfd), 12)
            if _LIBC.syscall(_SYS_ADD_RULE, ctypes.c_int(fd), ctypes.c_int(_RULE_PATH_BENEATH),
                             rule, ctypes.c_uint32(0)) != 0:
                err = ctypes.get_errno()
                os.close(fd)
                raise OSError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
        finally:
            os.close(pfd)
    return fd


def landlock_restrict(ruleset_fd: int) -> None:
    """Enforce the ruleset on this process and its future children (needs no_new_privs)."""
    if _LIBC.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset_fd), ctypes.c_uint32(0)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_restrict_self: {os.strerror(err)}")


# ---------------------------------------------------------------------------------- seccomp
#: Syscalls a job never needs that reach kernel attack surface, other processes' memory, the
#: machine's state or new namespaces; refused with EPERM.
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "unshare", "setns",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "syslog", "settimeofday", "clock_settime",
    "clock_adjtime", "adjtimex", "sethostname", "setdomainname", "vhangup", "iopl", "ioperm",
    "modify_ldt", "uselib", "personality", "open_by_handle_at", "name_to_handle_at",
    "fanotify_init", "lookup_dcookie", "mknod", "mknodat",
    "shmget", "semget", "msgget",  # System V IPC objects outlive their processes (and the job)
)
AF_UNIX = 1


def seccomp_program() -> bytes:
    """Build the job filter with libseccomp (``pyseccomp``) and return it as raw BPF (an array
    of ``struct sock_filter``), so a child installs it with one ``prctl``.  Refuses
    :data:`DENIED_SYSCALLS` with EPERM, sockets of any family but AF_UNIX with EAFNOSUPPORT,
    ``clone`` with namespace flags with EPERM, and ``clone3`` with ENOSYS (its flags sit in memory
    a filter cannot read; the C library then falls back to ``clone``).  Raises ImportError
    without pyseccomp, OSError when libseccomp fails."""
    import tempfile

    import pyseccomp as sc

    f = sc.SyscallFilter(sc.ALLOW)
    try:
        f.set_attr(sc.Attr.CTL_OPTIMIZE, 2)  # a binary tree of syscall numbers, not a linear scan
    except (OSError, ValueError, AttributeError):
        pass
    for name in DENIED_SYSCALLS:
        try:
            f.add_rule(sc.ERRNO(errno.EPERM), name)
        except (OSError, ValueError):  # unknown on this architecture
            pass
    f.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.NE, AF_UNIX))
    f.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socketpair", sc.Arg(0, sc.NE, AF_UNIX))
    for flag in (CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP):
        f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    with tempfile.TemporaryFile() as fh:
        f.export_bpf(fh)
        fh.seek(0)
        return fh.read()


class SeccompProgram:
    """A BPF program held in memory as a ``struct sock_fprog``, installed with ``seccomp(2)``.

    It is installed with SECCOMP_FILTER_FLAG_SPEC_ALLOW: without it the kernel turns on the
    Speculative Store Bypass mitigation for every filtered process, which made each check about
    0.6 ms slower here.  That mitigation guards secrets inside the filtered process's own address
    space against speculation; a candidate can read that memory directly anyway, and every other
    process's memory is out of its reach by address-space separation, so nothing is lost.  Where
    the flag or the syscall is refused the filter is loaded with ``prctl`` (mitigation on)."""

    SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1, 1 << 2

    def __init__(self, bpf: bytes, syscall_nr: int | None = None) -> None:
        if not bpf or len(bpf) % 8:
            raise ValueError("a BPF program is a non-empty array of 8-byte instructions")
        self._insns = ctypes.create_string_buffer(bpf, len(bpf))
        self._prog = ctypes.create_string_buffer(struct.pack("<HxxxxxxQ", len(bpf) // 8,
                                                             ctypes.addressof(self._insns)), 16)
        self._nr = syscall_nr

    def install(self) -> None:
        """Install the filter on this thread (needs no_new_privs or CAP_SYS_ADMIN); raises OSError."""
        if self._nr is not None and _LIBC.syscall(self._nr, self.SECCOMP_SET_MODE_FILTER,
                                                  self.SECCOMP_FILTER_FLAG_SPEC_ALLOW, self._prog) == 0:
            return
        if _LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, self._prog, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"seccomp filter: {os.strerror(err)}")


def seccomp_syscall_number() -> int | None:
    """The number of the ``seccomp`` syscall on this architecture (libseccomp), None if unknown."""
    try:
        import pyseccomp as sc

        return int(sc.resolve_syscall(sc.system_arch(), "seccomp"))
    except (ImportError, OSError, ValueError, TypeError):
        return None


# ---------------------------------------------------------------------------------- capabilities
class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def capability_sets(keep: int = 0):
    """Arguments for capset(2) that leave only the capability numbers in bitmask ``keep``."""
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    data[0].effective = data[0].permitted = keep & 0xFFFFFFFF
    data[1].effective = data[1].permitted = keep >> 32
    return (header, data, ctypes.pointer(header), ctypes.pointer(data[0]))


def capset(args) -> None:
    """capset(2) with arguments from :func:`capability_sets`; raises OSError."""
    if _LIBC.capset(args[2], args[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")


def effective_capabilities() -> int:
    """This process's effective capability mask (from /proc/self/status)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


__all__ = ["CgroupJail", "SeccompProgram", "capability_sets", "capset", "descendants_memory",
           "enter_worker_namespaces", "landlock_abi", "landlock_restrict", "landlock_ruleset",
           "seccomp_program"]
