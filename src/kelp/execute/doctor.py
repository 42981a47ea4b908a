"""``kelp doctor``: which sandbox layers are in force on this machine, from a real worker."""

from __future__ import annotations

import os
import sys

from kelp.execute.sandbox import Sandbox

#: Rows of the report: layer name, what it is for.
LAYERS = (
    ("namespaces", "no network; every process of a job killed after it, and with kelp"),
    ("cgroups", "memory and process count of a job and all it starts"),
    ("landlock", "writes only in the job dir; reads only the interpreter, import path and project"),
    ("seccomp", "kernel attack surface: ptrace, mount, bpf, keyctl, io_uring, non-unix sockets"),
)


def diagnose() -> dict:
    """Start one sandbox worker and report what it applies to jobs.

    Returns ``{"root": bool, "python": path, "private_uid": int | None, "keeps_read_search":
    bool, "layers": [{"layer", "active", "detail", "purpose"}], "warnings": [str]}``.  Raises
    :class:`~kelp.execute.errors.SandboxError` when no worker starts."""
    with Sandbox(workers=1) as sandbox:
        info = sandbox.layers()
    active, errors, details = info["layers"] or {}, info["errors"] or {}, info["details"] or {}
    rows = [{"layer": name, "active": bool(active.get(name)), "purpose": purpose,
             "detail": details.get(name) if active.get(name) else errors.get(name, "unavailable")}
            for name, purpose in LAYERS]
    warnings = []
    if not active.get("namespaces"):
        warnings.append("no namespaces: jobs can reach the network and escaped processes are not killed")
    if not active.get("landlock"):
        warnings.append("no Landlock: jobs can read what their uid can read and write what it can write")
        if info.get("keeps_read_search"):
            warnings.append("the interpreter is unreadable to the jobs' uid, so jobs keep CAP_DAC_READ_SEARCH "
                            "and can read root-only files; install Python where other users can read it")
    if not active.get("seccomp"):
        warnings.append("no seccomp filter: install pyseccomp and libseccomp")
    return {"root": os.geteuid() == 0, "python": sys.executable, "private_uid": info.get("uid"),
            "keeps_read_search": bool(info.get("keeps_read_search")), "layers": rows, "warnings": warnings}
