"""Run one candidate in a real kelp Sandbox and print what happened as JSON (stdout).

Started by tests/security/conftest.py, as root or as an unprivileged uid, so that the sandbox's
own start-up (namespaces, cgroups, uid) happens as that user.  Reads one JSON object on stdin:
``program``, ``tests`` (assert statements), ``setup``, ``limits`` (Limits fields), ``disable``
(layer names), ``run`` (keyword arguments of Sandbox.run), ``verify`` (also run Sandbox.verify),
``marker`` (look for processes whose command line holds it once the job is over).  Prints
``result`` (RunResult.to_dict), ``layers`` (Sandbox.layers) and, with ``verify``, ``verified``,
with ``marker``, ``survivors_after_job``."""

import json
import os
import sys
import time

from kelp.execute import Limits, Sandbox, TestSuite


def processes_with(marker: str) -> list[int]:
    """Pids whose command line contains ``marker``."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as fh:
                    if marker.encode() in fh.read():
                        found.append(int(name))
            except OSError:
                pass
    return found


def main() -> None:
    spec = json.loads(sys.stdin.read())
    suite = TestSuite.from_asserts(spec["tests"], setup=spec.get("setup", ""))
    limits = Limits(**spec.get("limits", {}))
    with Sandbox(workers=1, limits=limits, disable=tuple(spec.get("disable", ()))) as sandbox:
        out = {"layers": sandbox.layers()}
        out["result"] = sandbox.run(spec["program"], suite, **spec.get("run", {})).to_dict()
        if spec.get("marker"):  # processes the job left, while the sandbox is still open
            time.sleep(0.5)
            out["survivors_after_job"] = processes_with(spec["marker"])
        if spec.get("verify"):
            out["verified"] = sandbox.verify(spec["program"], suite).to_dict()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
