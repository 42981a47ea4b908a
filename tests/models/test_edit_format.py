"""The edit model's text format: markers at real nodes, edits that round-trip."""

import ast

import pytest
from hypothesis import given, settings, strategies as st

from kelp.corrupt import CorruptionError, corrupt
from kelp.datasets.loaders import load_mbpp
from kelp.models.edit_format import (EditFormatError, build_prompt, decode_edit, encode_edit,
                                     render_program)
from kelp.program.diff import tree_diff

PROGRAM = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x * 2\n    return total\n"


def test_markers_sit_at_node_starts_and_buckets_at_line_starts():
    rendered = render_program(PROGRAM, {4: 1.0, 2: 0.3})
    lines = rendered.text.split("\n")
    assert lines[0].startswith("<s0><n0>def f(xs):")
    assert lines[1].startswith("<s1>    <n1><n2>total = <n3>0")
    assert lines[3].startswith("<s3>")
    # removing the markers gives the normalised source back
    import re
    assert re.sub(r"<[ns]\d+>", "", rendered.text) == ast.unparse(ast.parse(PROGRAM))
    for k, path in enumerate(rendered.paths):
        assert f"<n{k}>" in rendered.text and isinstance(path, tuple)


def test_operator_edits_replace_the_enclosing_expression():
    rendered = render_program(PROGRAM)
    fixed = PROGRAM.replace("x * 2", "x + 2")
    (edit,) = tree_diff(rendered.tree, ast.parse(fixed))
    target = encode_edit(edit, rendered)
    assert target.endswith("<replace>x + 2<end>")
    again = decode_edit(target, rendered)
    assert ast.unparse(again.apply(rendered.tree)) == ast.unparse(ast.parse(fixed))


def test_inserts_and_deletes_attach_to_statements():
    rendered = render_program(PROGRAM)
    for fixed in (PROGRAM.replace("    return total\n", "    total = total + 1\n    return total\n"),
                  PROGRAM.replace("    return total\n", "    return total\n    print(1)\n"),
                  PROGRAM.replace("    total = 0\n", "")):
        (edit,) = tree_diff(rendered.tree, ast.parse(fixed))
        decoded = decode_edit(encode_edit(edit, rendered), rendered)
        assert ast.unparse(decoded.apply(rendered.tree)) == ast.unparse(ast.parse(fixed))


def test_malformed_edits_are_rejected_with_a_reason():
    rendered = render_program(PROGRAM)
    with pytest.raises(EditFormatError, match="position marker"):
        decode_edit("<replace>x", rendered)
    with pytest.raises(EditFormatError, match="not a node"):
        decode_edit("<n999><delete><end>", rendered)
    with pytest.raises(EditFormatError, match="not a statement"):
        decode_edit("<n3><before>y = 1<end>", rendered)
    with pytest.raises(ValueError):  # EditError: does not parse
        decode_edit("<n3><replace>(((<end>", rendered)


def test_the_prompt_has_every_section_in_order():
    prompt = build_prompt(render_program(PROGRAM), "Sum twice.", ["assert f([1]) == 2"], ["left = 1, right = 2"])
    order = [prompt.index(s) for s in ("<intent>", "<tests>", "<feedback>", "<program>", "<edit>")]
    assert order == sorted(order) and prompt.endswith("<edit>")


MBPP = [p.code for p in load_mbpp("test")[:60]]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(MBPP), st.integers(0, 10_000), st.integers(1, 3))
def test_every_step_of_a_reverse_path_round_trips(code, seed, steps):
    try:
        corrupted = corrupt(code, steps=steps, seed=seed, strict=False).source
        rendered = render_program(corrupted)
    except (CorruptionError, EditFormatError):
        return
    tree = rendered.tree
    fixed = ast.unparse(ast.parse(code))
    for edit in tree_diff(tree, ast.parse(fixed)):
        rendered = render_program(ast.unparse(tree))
        decoded = decode_edit(encode_edit(edit, rendered), rendered)
        assert ast.unparse(decoded.apply(rendered.tree)) == ast.unparse(edit.apply(rendered.tree))
        tree = edit.apply(rendered.tree)
    assert ast.unparse(tree) == fixed
