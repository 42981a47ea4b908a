import datetime
import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kelp.structured.workflow_corpus import SAMPLE_DIR, SCHEMASTORE_TESTS_DIR
from kelp.structured.workflow_yaml import (
    WorkflowDumper,
    WorkflowLoader,
    WorkflowYAMLError,
    _PurePythonWorkflowLoader,
    dump_workflow,
    load_workflow,
)

#: Strings a YAML 1.1 or 1.2 reader could take for something else, or that need care to write.
AMBIGUOUS = [
    "on", "On", "ON", "off", "Off", "yes", "Yes", "YES", "no", "No", "y", "Y", "n", "N",
    "true", "True", "false", "FALSE", "null", "Null", "NULL", "~", "",
    "3.10", "3.9", "1e3", "1E-3", "+1", "-0", "089", "0o17", "0x1F", "0b101", "017", "1_000",
    "1:30", ".5", "1.", ".inf", "-.Inf", ".nan", "2024-01-01", "2024-01-01 10:00:00",
    "=", "<<", "- a", "#x", "a #b", " lead", "trail ", "a: b", "{x}", "[x]", "*a", "&a", "!t",
    "%x", "@x", "`x", "|", "> x", "---", "...", "${{ matrix.os }}", "a\n", "\n", "\n\n", " \n",
    "x\n ", "two\nlines", "\tx", "\r\n", "\x85", "a\u2028b", "\ufeffx", "\x00", "é ☃ 𝄞",
]


def yaml11_read(text):
    """What a YAML 1.1 reader (plain ``yaml.safe_load``) makes of ``text``, with its top-level
    key ``True`` renamed back to ``"on"``."""
    data = yaml.safe_load(text)
    assert "on" not in data
    if True in data:
        data["on"] = data.pop(True)
    return data


def test_on_and_yaml11_booleans_stay_strings():
    text = "on: push\nyes: no\noff: y\nn: On\nt: true\nf: FALSE\nversion: '3.10'\n"
    assert load_workflow(text) == {
        "on": "push", "yes": "no", "off": "y", "n": "On", "t": True, "f": False, "version": "3.10",
    }
    assert yaml.safe_load("on: push\n") == {True: "push"}  # what the loader avoids


def test_other_yaml11_typing_is_kept_and_made_json():
    doc = load_workflow("v: 3.10\nd: 2024-01-01\nt: 2024-01-01 10:00:00\n2: a\ntrue: b\nnull: c\n2024-05-06: e\nx: =\n")
    # YAML 1.1 floats and dates as PyYAML reads them, then JSON: dates -> str, keys -> str.
    assert doc == {
        "v": 3.1, "d": "2024-01-01", "t": "2024-01-01 10:00:00",
        "2": "a", "true": "b", "null": "c", "2024-05-06": "e", "x": "=",
    }


def test_python_version_string_round_trips_for_both_readers():
    doc = {
        "name": "CI",
        "on": {"push": {"branches": ["main"]}, "workflow_dispatch": None},
        "jobs": {
            "test": {
                "runs-on": "ubuntu-latest",
                "strategy": {"matrix": {"python-version": ["3.9", "3.10", "3.11"]}},
                "steps": [{"uses": "actions/setup-python@v5", "with": {"python-version": "3.10"}}],
            }
        },
    }
    text = dump_workflow(doc)
    assert "'3.10'" in text
    assert load_workflow(text) == doc
    assert yaml11_read(text) == doc


def test_top_level_on_is_plain_and_other_ons_are_quoted():
    doc = {"on": {"push": None}, "env": {"on": "on", "ON": "x"}, "jobs": {"a": {"steps": ["on"]}}}
    text = dump_workflow(doc)
    lines = text.splitlines()
    assert lines[0] == "on:"
    assert "  push:" in lines  # None is written empty, the way workflows write it
    assert "  'on': 'on'" in lines and "  'ON': x" in lines and "      - 'on'" in lines
    assert load_workflow(text) == doc
    assert yaml11_read(text) == doc


@pytest.mark.parametrize("text", AMBIGUOUS)
def test_ambiguous_strings_round_trip_as_keys_and_values(text):
    doc = {"on": {"push": None}, "env": {"X": text, text: [text, {"k": text}]}}
    dumped = dump_workflow(doc)
    assert load_workflow(dumped) == doc
    assert yaml11_read(dumped) == doc


def test_dump_style_block_order_literal_no_aliases():
    shared = {"uses": "actions/checkout@v4"}
    doc = {"name": "x", "on": "push", "permissions": {"contents": "read"},
           "jobs": {"b": {"runs-on": "ubuntu-latest", "steps": [shared, shared, {"run": "make\nmake test\n"}]}}}
    text = dump_workflow(doc)
    assert text == (
        "name: x\n"
        "on: push\n"
        "permissions:\n"
        "  contents: read\n"
        "jobs:\n"
        "  b:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: |\n"
        "          make\n"
        "          make test\n"
    )
    assert list(load_workflow(text)) == ["name", "on", "permissions", "jobs"]


def test_long_lines_are_not_folded():
    expression = "${{ " + " && ".join(f"github.event.inputs.flag{i} == 'true'" for i in range(30)) + " }}"
    text = dump_workflow({"on": "push", "jobs": {"a": {"if": expression}}})
    assert f"    if: {expression}\n" in text


def test_sample_and_fixture_files_round_trip():
    files = sorted(SAMPLE_DIR.glob("*.yml")) + sorted((SCHEMASTORE_TESTS_DIR / "test").glob("*.yaml"))
    assert len(files) == 12 + 37
    for file in files:
        doc = load_workflow(file.read_text(encoding="utf-8"))
        text = dump_workflow(doc)
        assert load_workflow(text) == doc, file.name
        assert yaml11_read(text) == doc, file.name


def test_pure_python_loader_reads_the_same():
    assert WorkflowLoader.yaml_implicit_resolvers == _PurePythonWorkflowLoader.yaml_implicit_resolvers
    for file in sorted(SCHEMASTORE_TESTS_DIR.glob("*/*.yaml")) + sorted(SAMPLE_DIR.glob("*.yml")):
        text = file.read_text(encoding="utf-8")
        assert yaml.load(text, Loader=_PurePythonWorkflowLoader) == yaml.load(text, Loader=WorkflowLoader), file.name


def test_pyyaml_classes_are_untouched():
    assert yaml.safe_load("on: x") == {True: "x"}
    assert yaml.safe_dump({"on": 1}) == "'on': 1\n"
    assert WorkflowDumper.yaml_implicit_resolvers is not yaml.SafeDumper.yaml_implicit_resolvers


# -- property: any JSON data with string keys round-trips -------------------------------------

_strings = st.one_of(st.text(max_size=20), st.sampled_from(AMBIGUOUS), st.text(alphabet=" \n\t-:#ab'\"\\{}[],|>?&*!", max_size=10))
_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), _strings
)
_json = st.recursive(
    _leaves, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_strings, inner, max_size=4)),
    max_leaves=15,
)
_docs = st.dictionaries(st.one_of(_strings, st.just("on")), _json, max_size=5)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_docs)
def test_round_trip_property(doc):
    text = dump_workflow(doc)
    assert load_workflow(text) == doc
    assert yaml11_read(text) == doc


# -- errors ------------------------------------------------------------------------------------


def test_malformed_yaml_reports_line_and_column():
    with pytest.raises(WorkflowYAMLError, match=r"line 3, column 6") as info:
        load_workflow("name: x\non: push\n  bad: indent\n")
    assert (info.value.line, info.value.column) == (3, 6)
    with pytest.raises(WorkflowYAMLError, match="line 3, column 1: while parsing a flow sequence"):
        load_workflow("on: push\njobs: [a, b\n")  # the end of the text is where "]" is missing
    # the template placeholder that breaks two starter workflows
    with pytest.raises(WorkflowYAMLError, match="unhashable key") as info:
        load_workflow("on: push\njobs:\n  a:\n    with:\n      group_id: {{ groupId }}\n")
    assert info.value.line == 5


def test_unreadable_characters_report_a_position():
    with pytest.raises(WorkflowYAMLError) as info:
        load_workflow("on: push\nname: a\x01b\n")
    assert info.value.line == 2 and info.value.column == 8


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a\n- b\n", "just text\n", "42\n"])
def test_documents_that_are_not_mappings(text):
    with pytest.raises(WorkflowYAMLError, match="must be a YAML mapping") as info:
        load_workflow(text)
    assert info.value.line is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\n---\nb: 2\n", "single document"),
        ("a: .nan\n", "JSON"),
        ("a: -.inf\n", "JSON"),
        ("a: &x [*x]\n", "recursive alias"),
    ],
)
def test_other_load_errors(text, message):
    with pytest.raises(WorkflowYAMLError, match=message):
        load_workflow(text)


@pytest.mark.parametrize("doc", [["a"], "on: push", None])
def test_dump_needs_a_mapping(doc):
    with pytest.raises(WorkflowYAMLError, match="must be a mapping"):
        dump_workflow(doc)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, {1, 2}, b"x", datetime.date(2024, 1, 1), object()])
def test_dump_rejects_values_that_are_not_json(value):
    with pytest.raises(WorkflowYAMLError, match="cannot write"):
        dump_workflow({"on": "push", "env": {"A": value}})
