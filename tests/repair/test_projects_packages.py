"""Repair inside real Python projects: the program is served under its own import name.

Each test builds a small package in tmp_path and runs its pytest suite in the real sandbox: a bug
in ``__init__.py``, relative imports, a module that imports its own package, a src layout, a
conftest fixture (and a conftest that imports the program), and tests that never import the
file."""


import pytest

from kelp.execute import CollectError, Limits, Sandbox, TestSuite, localize
from kelp.repair.search import RepairConfig, RepairInputError, repair

from project_files import make


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1, limits=Limits(test_timeout=2.0, job_timeout=20.0)) as sb:
        yield sb


def suite_for(root, program: str, *args: str) -> TestSuite:
    return TestSuite.from_pytest(list(args) or ["tests"], str(root / program), invocation_dir=str(root))


CALC_TESTS = """
    from calc import add

    def test_add():
        assert add(2, 3) == 5

    def test_zero():
        assert add(0, 0) == 0
"""


def test_a_bug_in_a_package_init_is_served_localized_and_repaired(sandbox, tmp_path):
    root = make(tmp_path, {"pyproject.toml": "[project]\nname = 'calc'\n",
                           "calc/__init__.py": "def add(a, b):\n    return a - b\n",
                           "tests/test_calc.py": CALC_TESTS})
    buggy = (root / "calc/__init__.py").read_text()
    suite = sandbox.collect(buggy, suite_for(root, "calc/__init__.py"))
    assert suite.ids == ["tests/test_calc.py::test_add", "tests/test_calc.py::test_zero"]
    assert [o.status for o in sandbox.run(buggy, suite).outcomes] == ["fail", "pass"]
    assert sandbox.run("def add(a, b):\n    return a + b\n", suite).all_passed
    where = localize(sandbox, buggy, suite)
    assert where.ranking and 2 in where.ranking  # the candidate's lines are seen by the tests
    result = repair(buggy, suite, sandbox, RepairConfig(budget=32, seconds=60))
    assert result.solved and "a + b" in result.repaired
    assert (root / "calc/__init__.py").read_text() == buggy  # the user's file is untouched


def collected(sandbox, root, files: dict[str, str], program: str):
    """The project ``files`` written under ``root``: the text of ``program`` and its collected suite."""
    make(root, files)
    text = (root / program).read_text()
    return text, sandbox.collect(text, suite_for(root, program))


def test_relative_imports_and_the_real_file_path(sandbox, tmp_path):
    buggy, suite = collected(sandbox, tmp_path, {
        "setup.cfg": "[metadata]\nname = pkg\n",
        "pkg/__init__.py": "",
        "pkg/helpers.py": "def double(x):\n    return 2 * x\n",
        "pkg/core.py": "from .helpers import double\n\n\ndef quad(x):\n    return double(x) - double(x)\n",
        "tests/test_core.py": """
            import pathlib
            import pkg.core
            from pkg.core import quad

            def test_quad():
                assert quad(2) == 8

            def test_file_is_the_real_one():
                assert pathlib.Path(pkg.core.__file__).name == "core.py"
                assert pkg.core.__name__ == "pkg.core"
        """}, "pkg/core.py")
    run = sandbox.run(buggy, suite)
    assert run.status == "ok" and [o.status for o in run.outcomes] == ["fail", "pass"], run
    fixed = buggy.replace("double(x) - double(x)", "double(x) + double(x)")
    assert sandbox.run(fixed, suite).all_passed


def test_a_module_that_imports_its_own_package(sandbox, tmp_path):
    root = make(tmp_path, {
        "pyproject.toml": "",
        "pkg/__init__.py": "from pkg.mod import area\n",
        "pkg/utils.py": "def square(x):\n    return x * x\n",
        "pkg/mod.py": "from pkg.utils import square\n\n\ndef area(r):\n    return 3 - square(r)\n",
        "tests/test_area.py": "from pkg import area\n\n\ndef test_area():\n    assert area(2) == 12\n",
    })
    buggy = (root / "pkg/mod.py").read_text()
    suite = sandbox.collect(buggy, suite_for(root, "pkg/mod.py"))
    run = sandbox.run(buggy, suite)
    assert run.status == "ok" and run.outcomes[0].status == "fail", run
    assert sandbox.run(buggy.replace("3 - square(r)", "3 * square(r)"), suite).all_passed
    result = repair(buggy, suite, sandbox, RepairConfig(budget=64, seconds=60))
    assert result.solved and "3 * square(r)" in result.repaired


def test_a_src_layout_package(sandbox, tmp_path):
    root = make(tmp_path, {
        "pyproject.toml": "[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
        "src/shapes/__init__.py": "",
        "src/shapes/geo.py": "def perimeter(w, h):\n    return 2 * (w - h)\n",
        "tests/test_geo.py": "from shapes.geo import perimeter\n\n\ndef test_square():\n"
                             "    assert perimeter(2, 2) == 8\n",
    })
    buggy = (root / "src/shapes/geo.py").read_text()
    suite = sandbox.collect(buggy, suite_for(root, "src/shapes/geo.py"))
    assert suite.rootdir == str(root)
    assert sandbox.run(buggy, suite).outcomes[0].status == "fail"
    assert sandbox.run(buggy.replace("w - h", "w + h"), suite).all_passed


@pytest.mark.parametrize("conftest_imports_program", [False, True])
def test_conftest_fixtures_work_whether_or_not_they_import_the_program(sandbox, tmp_path, conftest_imports_program):
    conftest = "import pytest\n\n\n@pytest.fixture\ndef pairs():\n    return [(1, 2), (3, 4)]\n"
    if conftest_imports_program:  # the session cannot be warm: the program is needed to configure it
        conftest = "from mathx.ops import mul\n" + conftest + "\n\n@pytest.fixture\ndef times():\n    return mul\n"
    root = make(tmp_path, {
        "pyproject.toml": "",
        "mathx/__init__.py": "",
        "mathx/ops.py": "def mul(a, b):\n    return a + b\n",
        "tests/conftest.py": conftest,
        "tests/test_ops.py": "from mathx.ops import mul\n\n\ndef test_pairs(pairs):\n"
                             "    assert [mul(a, b) for a, b in pairs] == [2, 12]\n",
    })
    buggy = (root / "mathx/ops.py").read_text()
    suite = sandbox.collect(buggy, suite_for(root, "mathx/ops.py"))
    assert sandbox.run(buggy, suite).outcomes[0].status == "fail"
    assert sandbox.run(buggy.replace("a + b", "a * b"), suite).all_passed
    assert sandbox.run(buggy, suite).outcomes[0].status == "fail"  # nothing of the fix stays behind


def test_tests_that_never_import_the_file_are_refused_clearly(sandbox, tmp_path):
    root = make(tmp_path, {
        "pyproject.toml": "",
        "calc/__init__.py": "def add(a, b):\n    return a + b\n",
        "vendor/calc/__init__.py": "def add(a, b):\n    return a - b\n",
        "tests/test_calc.py": CALC_TESTS,
        "tests/test_other.py": "def test_alone():\n    assert 1 + 1 == 2\n",
    })
    # the tests import ``calc`` from the project, not the vendored copy given as the program
    program = (root / "vendor/calc/__init__.py").read_text()
    with pytest.raises(CollectError, match="the tests import calc from .*calc/__init__.py, not .*vendor"):
        sandbox.collect(program, suite_for(root, "vendor/calc/__init__.py", "tests/test_calc.py"))
    # tests that import nothing of it at all: the run says so, and repair refuses (exit 2)
    suite = sandbox.collect(program, suite_for(root, "vendor/calc/__init__.py", "tests/test_other.py"))
    run = sandbox.run(program, suite)
    assert run.status == "load_error" and "never import" in run.message and "vendor/calc/__init__.py" in run.message
    with pytest.raises(RepairInputError, match="never import"):
        repair(program, suite, sandbox, RepairConfig(budget=4, seconds=30))


def test_sibling_submodules_stay_attributes_of_their_package(sandbox, tmp_path):
    # The package imports a sibling before the program; tests read the sibling as an attribute
    # of the package (webcolors' tests read webcolors._definitions this way).
    root = make(tmp_path, {"pyproject.toml": "[project]\nname = 'pal'\n",
                           "pal/__init__.py": "from ._names import NAMES\nfrom ._convert import shade\n",
                           "pal/_names.py": "NAMES = ('red', 'blue')\n",
                           "pal/_convert.py": "def shade(x):\n    return x - 1\n",
                           "tests/test_pal.py": """
                               import pytest
                               import pal

                               @pytest.mark.parametrize("name", pal._names.NAMES)
                               def test_names(name):
                                   assert pal.shade(len(name)) == len(name) + 1
                           """})
    buggy = (root / "pal/_convert.py").read_text()
    suite = sandbox.collect(buggy, suite_for(root, "pal/_convert.py"))
    assert suite.ids == ["tests/test_pal.py::test_names[red]", "tests/test_pal.py::test_names[blue]"]
    assert sandbox.run("def shade(x):\n    return x + 1\n", suite).all_passed


def test_a_project_that_turns_warnings_into_errors_collects(sandbox, tmp_path):
    # The sandbox imports installed pytest plugins (hypothesis here) before the session; pytest
    # must not warn that it cannot rewrite them, which filterwarnings = error makes fatal.
    root = make(tmp_path, {"pyproject.toml": "[project]\nname = 'calc'\n[tool.pytest.ini_options]\n"
                                              "filterwarnings = ['error']\n",
                           "calc/__init__.py": "def add(a, b):\n    return a - b\n",
                           "tests/test_calc.py": CALC_TESTS})
    buggy = (root / "calc/__init__.py").read_text()
    suite = sandbox.collect(buggy, suite_for(root, "calc/__init__.py"))
    assert suite.ids == ["tests/test_calc.py::test_add", "tests/test_calc.py::test_zero"]
    assert sandbox.run("def add(a, b):\n    return a + b\n", suite).all_passed


def test_tests_the_sandbox_refuses_are_left_out_of_the_search(sandbox, tmp_path):
    root = make(tmp_path, {"pyproject.toml": "[project]\nname = 'calc'\n",
                           "calc/__init__.py": "def add(a, b):\n    return a - b\n",
                           "tests/test_calc.py": CALC_TESTS + """
    def test_cli():
        import subprocess, sys
        subprocess.run([sys.executable, "-c", "import calc"], check=True)
"""})
    buggy = (root / "calc/__init__.py").read_text()
    suite = sandbox.collect(buggy, suite_for(root, "calc/__init__.py"))
    result = repair(buggy, suite, sandbox, RepairConfig(budget=32, seconds=60))
    assert result.solved and "a + b" in result.repaired
    assert result.denied == {"tests/test_calc.py::test_cli": "subprocess.Popen"}
    assert result.tests_after == (2, 2)
    only_cli = sandbox.collect(buggy, suite_for(root, "calc/__init__.py", "tests/test_calc.py::test_cli"))
    with pytest.raises(RepairInputError, match="sandbox does not allow"):
        repair(buggy, only_cli, sandbox, RepairConfig(budget=8, seconds=30))


def test_an_attribute_a_constructor_forgot_to_set_at_import(sandbox, tmp_path):
    # The only instance is made at import, where no test's coverage sees the constructor; the
    # AttributeError is raised in another module. The search still finds the forgotten line.
    spans = ("class Spans:\n"
             "    def __init__(self, openers, closers):\n"
             "        self.closers = closers\n\n"
             "    def opener(self, pos):\n"
             "        return self.openers.get(pos)\n\n\n"
             "NONE = Spans({}, {})\n")
    root = make(tmp_path, {"pyproject.toml": "[project]\nname = 'lex'\n",
                           "lex/__init__.py": "from .spans import NONE\n",
                           "lex/spans.py": spans,
                           "lex/scan.py": "from .spans import NONE\n\n\ndef first(pos):\n"
                                          "    return NONE.openers.get(pos, 'none')\n",
                           "tests/test_scan.py": "from lex.scan import first\n\n\ndef test_first():\n"
                                                 "    assert first(0) == 'none'\n"})
    suite = sandbox.collect(spans, suite_for(root, "lex/spans.py"))
    result = repair(spans, suite, sandbox, RepairConfig(budget=16, seconds=60))
    assert result.solved and "self.openers = openers" in result.repaired
    assert 3 in result.localization[:3]


def test_a_module_kept_from_the_warm_import_sees_the_package_made_again(sandbox, tmp_path):
    # `pkg.cli` finishes importing before `pkg.core` (the program) and keeps a reference to the
    # package; the package is made again for each candidate, and cli must see the new one,
    # whose `__version__` was set after the program loaded.
    program, suite = collected(sandbox, tmp_path, {
        "pyproject.toml": "",
        "pkg/__init__.py": "from pkg import cli, core\n\n__version__ = '1.0'\n",
        "pkg/cli.py": "import pkg\n\n\ndef version():\n    return pkg.__version__\n",
        "pkg/core.py": "def double(x):\n    return x * 2\n",
        "tests/test_pkg.py": "from pkg import cli, core\n\n\ndef test_version():\n    assert cli.version() == '1.0'\n\n\n"
                             "def test_double():\n    assert core.double(2) == 4\n",
    }, "pkg/core.py")
    run = sandbox.run(program, suite)
    assert run.status == "ok" and run.all_passed, run.outcomes
