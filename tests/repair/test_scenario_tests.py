"""A class repaired against a scenario tests file (build, check, build again, check): the tests
build the program's objects, and the repair is confirmed by a judged run."""

import subprocess
import sys

STACK = '''class Stack:
    def __init__(self):
        self.items = []

    def push(self, x):
        self.items.append(x)

    def pop(self):
        return self.items.pop(0)

    def __len__(self):
        return len(self.items)


def drain(stack):
    out = []
    while len(stack) > 0:
        out.append(stack.pop())
    return out
'''

SCENARIO = '''s = Stack()
s.push(1)
s.push(2)
assert s.pop() == 2
s = Stack()
for v in (1, 2, 3):
    s.push(v)
assert drain(s) == [3, 2, 1]
'''


def test_a_class_is_repaired_against_a_scenario_file_and_judged(tmp_path):
    (tmp_path / "stack.py").write_text(STACK)
    (tmp_path / "tests.py").write_text(SCENARIO)
    proc = subprocess.run([sys.executable, "-m", "kelp.cli", "repair", "stack.py", "--tests", "tests.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "-        return self.items.pop(0)\n+        return self.items.pop(" in proc.stdout
    assert "confirmed by a judged run" in proc.stderr
