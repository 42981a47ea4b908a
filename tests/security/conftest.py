"""Hostile-candidate fixtures: run an attack in a real sandbox as root and as an unprivileged user.

``attack(spec)`` runs tests/security/attack_runner.py in a fresh process, so each attack gets
its own sandbox, started as the user of the parametrised ``user`` fixture:
* ``root``: this interpreter, as root (skipped when the tests do not run as root);
* ``user``: uid/gid 65534 (when the tests run as root) with a throw-away virtual environment of
  the system's Python that sees only kelp's ``src`` and ``pyseccomp`` (the project's own
  interpreter may live where that uid cannot read, e.g. under /root); when the tests already run
  unprivileged, this interpreter as it is.
Each attack is also run against a sandbox with the layers that stop it turned off
(``disable``), to show the attack is real: a test that cannot fail proves nothing.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRC = HERE.parent.parent / "src"
RUNNER = HERE / "attack_runner.py"
NOBODY = 65534


def _readable_by_others(path: Path) -> bool:
    for p in [path, *path.parents]:
        mode = p.stat().st_mode
        if not mode & 0o005:
            return False
    return True


@pytest.fixture(scope="session")
def unprivileged_python(request):
    """A Python that uid 65534 can run, with kelp's src, pyseccomp and pytest importable; None
    when the tests already run unprivileged (use sys.executable)."""
    if os.geteuid() != 0:
        return None
    system = shutil.which("python3.11", path="/usr/bin:/usr/local/bin")
    if system is None or not _readable_by_others(SRC):
        pytest.skip("no system python3.11, or kelp's src is not readable by other users")
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="kelp-unpriv-", dir="/tmp"))  # pytest's tmp is root-only
    os.chmod(root, 0o755)
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    venv = root / "venv"
    subprocess.run([system, "-m", "venv", "--without-pip", str(venv)], check=True)
    from importlib.metadata import distribution

    import pyseccomp

    site = next(venv.glob("lib/python3*/site-packages"))
    shutil.copy(pyseccomp.__file__, site / "pyseccomp.py")
    for name in ("pytest", "pluggy", "iniconfig", "packaging", "pygments"):  # pure Python: pytest runs
        dist = distribution(name)
        for file in dist.files or ():
            if file.suffix == ".py" or file.suffix in (".typed", ".txt") and "dist-info" not in str(file):
                target = site / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(dist.locate_file(file), target)
    (site / "kelp-src.pth").write_text(str(SRC) + "\n")
    for p in [root, *root.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() or os.access(p, os.X_OK) else 0o644)
    work = root / "work"
    work.mkdir(mode=0o777)
    os.chmod(work, 0o777)
    return str(venv / "bin" / "python"), str(work)


def _drop_to_nobody():
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)


@pytest.fixture(params=["root", "user"])
def user(request):
    """Who starts the sandbox: "root" or "user" (unprivileged)."""
    if request.param == "root" and os.geteuid() != 0:
        pytest.skip("the tests do not run as root")
    return request.param


@pytest.fixture
def attack(user, unprivileged_python):
    """``attack(spec, timeout=60) -> dict``: run one attack spec (see attack_runner.py) in a fresh
    sandbox started as ``user``; returns the runner's JSON."""

    def run(spec: dict, timeout: float = 90) -> dict:
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        if user == "user" and unprivileged_python is not None:
            python, work = unprivileged_python
            cmd, kwargs = [python, str(RUNNER)], {"preexec_fn": _drop_to_nobody, "cwd": work}
            env |= {"HOME": work, "TMPDIR": work}
        else:
            cmd, kwargs = [sys.executable, str(RUNNER)], {}
            env["PYTHONPATH"] = str(SRC)
            if "TMPDIR" in os.environ:
                env["TMPDIR"] = os.environ["TMPDIR"]
        proc = subprocess.run(cmd, input=json.dumps(spec), capture_output=True, text=True,
                              timeout=timeout, env=env, **kwargs)
        assert proc.returncode == 0, f"attack runner failed ({user}):\n{proc.stderr[-3000:]}"
        return json.loads(proc.stdout)

    run.user = user
    return run


@pytest.fixture
def open_dir():
    """A directory outside any sandbox that every uid may write (so that only the sandbox, not
    file permissions, protects it); removed afterwards."""
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="kelp-security-", dir="/tmp"))
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)
