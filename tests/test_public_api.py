"""The curated ``kelp`` namespace: light to import, every name resolves, the example runs."""

import doctest
import subprocess
import sys

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


def test_the_docstring_example_repairs_a_function():
    failed, attempted = doctest.testmod(kelp, verbose=False)
    assert attempted >= 4 and failed == 0
