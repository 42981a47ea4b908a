"""The curated ``kelp`` namespace: light to import, every name resolves, the example runs."""

import doctest
import subprocess
import sys
from pathlib import Path

import kelp


def test_import_kelp_loads_nothing_heavy():
    code = "import sys, kelp; print(sorted({'torch', 'transformers', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_public_name_resolves_and_unknown_names_fail():
    for name in kelp.__all__:
        assert getattr(kelp, name) is not None
    try:
        kelp.no_such_thing  # noqa: B018
    except AttributeError as error:
        assert "no_such_thing" in str(error)
    else:
        raise AssertionError("an unknown attribute resolved")


def test_no_public_name_is_also_a_subpackage():
    """The import system binds ``kelp.<subpackage>`` once it is imported, shadowing a lazy name."""
    packages = {p.name for p in Path(kelp.__file__).parent.iterdir() if (p / "__init__.py").exists()}
    assert not packages & set(kelp.__all__)


def test_the_docstring_example_repairs_a_function_after_the_subpackages_are_imported():
    import kelp.corrupt.forward  # noqa: F401
    import kelp.repair.search  # noqa: F401

    failed, attempted = doctest.testmod(kelp, verbose=False)
    assert attempted >= 5 and failed == 0
