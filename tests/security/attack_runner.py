"""Run one candidate in a real kelp Sandbox and print what happened as JSON (stdout).

Started by tests/security/conftest.py, as root or as an unprivileged uid, so that the sandbox's
own start-up (namespaces, cgroups, uid) happens as that user.  Reads one JSON object on stdin:
``program``, ``tests`` (assert statements), ``setup``, ``limits`` (Limits fields), ``disable``
(layer names), ``run`` (keyword arguments of Sandbox.run), ``verify`` (also run Sandbox.verify),
``marker`` (look for processes whose command line holds it once the job is over).  With
``project`` (relative path -> text), ``program_path`` (relative) and ``pytest`` (arguments), the
tests are that project's pytest run, and ``runs`` (program texts, default ``[program]``) run one
after another in the same sandbox (one warm session).  Prints ``result`` (RunResult.to_dict of
the first run), ``results`` (of every run), ``layers`` (Sandbox.layers) and, with ``verify``,
``verified``, with ``marker``, ``survivors_after_job``."""

import json
import os
import sys
import tempfile
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


def _pytest_suite(spec: dict) -> TestSuite:
    root = tempfile.mkdtemp(prefix="kelp-attack-project-")
    for rel, text in spec["project"].items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
    for d, _, files in os.walk(root):  # readable by the jobs' private uid
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    return TestSuite.from_pytest(spec["pytest"], os.path.join(root, spec["program_path"]), invocation_dir=root)


def main() -> None:
    spec = json.loads(sys.stdin.read())
    if spec.get("project"):
        suite = _pytest_suite(spec)
    else:
        suite = TestSuite.from_asserts(spec["tests"], setup=spec.get("setup", ""))
    limits = Limits(**spec.get("limits", {}))
    with Sandbox(workers=1, limits=limits, disable=tuple(spec.get("disable", ()))) as sandbox:
        out = {"layers": sandbox.layers()}
        suite = sandbox.collect(spec["program"], suite)
        results = []
        for i, program in enumerate(spec.get("runs") or [spec["program"]]):
            results.append(sandbox.run(program, suite, **spec.get("run", {})).to_dict())
            if i == 0 and spec.get("marker"):  # processes the job left, while the sandbox is still open
                time.sleep(0.5)
                out["survivors_after_job"] = processes_with(spec["marker"])
        out["result"], out["results"] = results[0], results
        if spec.get("verify"):
            out["verified"] = sandbox.verify(spec["program"], suite).to_dict()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
