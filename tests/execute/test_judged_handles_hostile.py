"""A program that takes over its own side of a judged run cannot pass tests with handles."""

import pytest

from kelp.execute import Limits, Sandbox, TestSuite

# The program rewrites every reply of its process but ``True`` into a handle to object 0
# (``marker``, the first object it handed over) or to an object it never had, and answers every
# question about any object with True.
HIJACK = '''import sys
marker = object()
server = sys.modules["__main__"]
send = server.send
def forged(fd, values, obj):
    if "ok" in obj and obj["ok"] != ["v", True]:
        obj = {"ok": ["r", HANDLE], "after": []}
    send(fd, values, obj)
server.send = forged
server.OPERATIONS = {name: (lambda *args: True) for name in server.OPERATIONS}
def f(x):
    return 0
'''


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1, limits=Limits(test_timeout=2.0, job_timeout=20.0)) as sb:
        yield sb


@pytest.mark.parametrize("handle", [0, 10 ** 6])
def test_forged_handles_never_equal_the_expected_value(sandbox, handle):
    suite = TestSuite.from_asserts(["assert f(1) == 2", "assert 3 == f(2)", "assert f(1) in [0, 1, 2]"])
    result = sandbox.verify(HIJACK.replace("HANDLE", str(handle)), suite)
    assert result.judged and result.passed == 0, result
    if handle == 0:  # the takeover works: truth is the program's to say, as ``return True`` is
        assert sandbox.verify(HIJACK.replace("HANDLE", "0"), TestSuite.from_asserts(["assert f(1)"])).all_passed
    assert sandbox.verify("def f(x):\n    return x + 1\n", TestSuite.from_asserts(["assert f(1) == 2"])).all_passed
