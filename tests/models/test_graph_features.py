import ast
import random
from functools import lru_cache
from itertools import pairwise

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.loader import DataLoader

from kelp.corrupt.token_noise import CONST_MASK, MASK, apply_tokens, noise, token_nodes
from kelp.datasets.loaders import load_mbpp
from kelp.models.graph_features import (
    EDGE_TYPES,
    GROUPS,
    MAX_DEPTH,
    MAX_ITERATION,
    MAX_SIBLING,
    SPECIAL_TOKENS,
    GraphError,
    GraphVocab,
    ProgramGraph,
    program_graph,
    targets,
)
from kelp.program.tree import (
    OPERATOR_SYMBOLS,
    ProgramError,
    ProgramSyntaxError,
    iter_nodes,
    parse,
)

SRC = "def f(a, n):\n    b = a * 2\n    if b > n:\n        return a + b\n    return f(a - 1, n)\n"


@lru_cache(maxsize=1)
def mbpp_train() -> tuple[str, ...]:
    return tuple(p.code for p in load_mbpp("train"))


@lru_cache(maxsize=1)
def vocab() -> GraphVocab:
    return GraphVocab.build(mbpp_train())


def _edges(g, name: str) -> set[tuple[int, int]]:
    eid = EDGE_TYPES.index(name)
    sel = g.edge_index[:, g.edge_type == eid]
    return {(int(a), int(b)) for a, b in sel.t().tolist()}


def _check_graph(g: ProgramGraph, tree: ast.Module, v: GraphVocab) -> None:
    """Invariants every program graph satisfies."""
    nodes = list(iter_nodes(tree))
    n = len(nodes)
    assert g.num_nodes == n
    for key in ("x_type", "x_token", "x_prev", "x_parent_type", "x_depth", "x_sibling", "x_iteration",
                "x_signal", "token_mask"):
        assert g[key].shape == (n,), key
    assert g.x_signal.dtype == torch.float and g.token_mask.dtype == torch.bool
    assert g.x_type.tolist() == [v.type_id(type(nd).__name__) for _, nd in nodes]
    assert v.unk_id not in g.x_type.tolist()
    # slots: same order as token_nodes, marked by token_mask
    slots = token_nodes(tree)
    assert g.slot_node.tolist() == torch.nonzero(g.token_mask).flatten().tolist()
    assert [nodes[i][0] for i in g.slot_node.tolist()] == [s.path for s in slots]
    assert (g.x_token[~g.token_mask] == v.none_id).all()
    assert (g.x_token[g.token_mask] != v.none_id).all()
    # edges: in range, typed, parent/child symmetric, one parent per non-root node
    e = g.edge_index
    assert e.dtype == torch.long and e.shape[0] == 2 and e.shape[1] == g.edge_type.shape[0]
    if e.numel():
        assert int(e.min()) >= 0 and int(e.max()) < n
    assert set(g.edge_type.tolist()) <= set(range(len(EDGE_TYPES)))
    child, parent = _edges(g, "child"), _edges(g, "parent")
    assert parent == {(b, a) for a, b in child} and len(child) == n - 1
    assert sorted(b for _, b in child) == list(range(1, n))
    assert _edges(g, "prev_sibling") == {(b, a) for a, b in _edges(g, "next_sibling")}
    assert _edges(g, "prev_use") == {(b, a) for a, b in _edges(g, "next_use")}
    for a, b in _edges(g, "next_use"):
        assert g.token_mask[a] and g.token_mask[b] and g.x_token[a] == g.x_token[b]
    # candidates
    c = g.cand_token.shape[0]
    assert g.cand_group.shape == g.cand_batch.shape == (c,) and len(g.cand_text) == c
    assert g.cand_text[0] == "<none>" and g.cand_group[0] == GROUPS.index("any")
    assert not (g.cand_batch != 0).any()
    assert len(set(zip(g.cand_group.tolist(), g.cand_text))) == c  # deduplicated
    assert MASK not in g.cand_text[1:] and CONST_MASK not in g.cand_text
    assert g.slot_group.shape == g.slot_cand.shape == (len(slots),)
    for s, grp, cand in zip(slots, g.slot_group.tolist(), g.slot_cand.tolist()):
        if s.token in (MASK, CONST_MASK):
            assert cand == 0
        else:
            assert g.cand_text[cand] == s.token and g.cand_group[cand] == grp


def test_vocab_build_and_json_round_trip():
    v = vocab()
    assert tuple(v.tokens[:4]) == SPECIAL_TOKENS
    assert (v.pad_id, v.unk_id, v.mask_id, v.none_id) == (0, 1, 2, 3)
    for sym in ("+", "not in", "is not", "and", "~", "//"):
        assert v.token_id(sym) != v.unk_id
    for tok in ("i", "len", "append", "0", "1", "''"):
        assert v.token_id(tok) != v.unk_id, tok
    assert v.token_id("surely_not_in_mbpp_xyz") == v.unk_id
    for t in ("Module", "Name", "BinOp", "MatchAs", "comprehension", "arguments", "NotIn"):
        assert v.type_id(t) != v.unk_id
    assert v.edge_types == list(EDGE_TYPES) and v.edge_id("next_use") == 4
    assert set(v.frequent) == {"ident", "attr", "const"}
    assert v.frequent["attr"][0] == "append" and len(v.frequent["ident"]) == 64
    text = v.to_json()
    assert GraphVocab.from_json(text) == v and GraphVocab.from_json(text).token_id("len") == v.token_id("len")
    small = GraphVocab.build(["x = 1\n", "x = 2\n", "def (:", "x.y = 1\n"], max_tokens=1, min_count=2)
    ops = list(dict.fromkeys(OPERATOR_SYMBOLS.values()))  # 27 distinct symbols ("+", "-" twice)
    assert small.tokens == list(SPECIAL_TOKENS) + ops + ["x"]  # "1" (twice) is cut by max_tokens
    assert small.frequent == {"ident": ["x"], "attr": [], "const": []}


def test_vocab_errors():
    for bad in ("not json", "[]", '{"format": "other"}', '{"format": "kelp.graph_vocab/1"}',
                '{"format": "kelp.graph_vocab/1", "node_types": 1, "tokens": [], "edge_types": [], "frequent": {}}'):
        with pytest.raises(GraphError):
            GraphVocab.from_json(bad)
    with pytest.raises(GraphError):
        GraphVocab(["<pad>"], list(SPECIAL_TOKENS))
    with pytest.raises(GraphError):
        vocab().edge_id("sideways")
    assert issubclass(GraphError, ProgramError) and issubclass(GraphError, ValueError)


def test_graph_fields_of_a_small_program():
    v = vocab()
    tree = parse(SRC)
    g = program_graph(tree, v, iteration=2, signal={3: 0.5, 4: 1.0})
    _check_graph(g, tree, v)
    nodes = list(iter_nodes(tree))
    assert g.x_iteration.tolist() == [2] * len(nodes)
    assert torch.equal(g.x_prev, g.x_token)
    assert g.x_parent_type[0] == v.type_id("<none>") and g.x_depth[0] == 0
    idx = {p: i for i, (p, _) in enumerate(nodes)}
    ret = idx[("body", 0, "body", 1, "body", 0)]  # return a + b (line 4)
    assert g.x_signal[ret] == 1.0 and g.x_signal[idx[("body", 0, "body", 1, "test", "ops", 0)]] == 0.5
    assert g.x_signal[0] == 0.0 and g.x_signal[idx[("body", 0, "body", 0)]] == 0.0
    assert g.x_sibling[idx[("body", 0, "body", 2)]] == 2 and g.x_depth[idx[("body", 0, "body", 2)]] == 2
    assert g.x_parent_type[ret] == v.type_id("If")
    # next-use chains of a (arg, line 2, line 4, line 5), b and n, in source order
    a_nodes = [idx[p] for p in (("body", 0, "args", "args", 0), ("body", 0, "body", 0, "value", "left"),
                                ("body", 0, "body", 1, "body", 0, "value", "left"),
                                ("body", 0, "body", 2, "value", "args", 0, "left"))]
    assert set(pairwise(a_nodes)) <= _edges(g, "next_use")
    assert len(_edges(g, "next_use")) == 3 + 2 + 2  # a: 3, b: 2, n: 2 (f used once)
    # candidates: own identifiers, constants, operators of every category
    assert {"a", "n", "b", "f"} <= set(g.cand_text) and "2" in g.cand_text and "1" in g.cand_text
    assert {"is not", "not in", "and", "~"} <= set(g.cand_text)
    plus = [i for i, t in enumerate(g.cand_text) if t == "+"]
    assert sorted(GROUPS[int(g.cand_group[i])] for i in plus) == ["binop", "unaryop"]


def test_next_use_stays_in_its_function_scope():
    src = "def g(x):\n    def h(x):\n        return x\n    return x\n"
    tree = parse(src)
    g = program_graph(tree, vocab())
    idx = {p: i for i, (p, _) in enumerate(iter_nodes(tree))}
    outer_arg, inner_arg = idx[("body", 0, "args", "args", 0)], idx[("body", 0, "body", 0, "args", "args", 0)]
    inner_use, outer_use = idx[("body", 0, "body", 0, "body", 0, "value")], idx[("body", 0, "body", 1, "value")]
    assert _edges(g, "next_use") == {(outer_arg, outer_use), (inner_arg, inner_use)}


def test_masks_previous_tokens_and_targets():
    v = vocab()
    out = noise(SRC, 1.0, random.Random(0), mask_prob=1.0)
    tree = out.tree
    g = program_graph(tree, v, previous_tokens=out.original, target_tokens=out.original)
    _check_graph(g, tree, v)
    masked = [i for i, t in enumerate(out.noisy) if t in (MASK, CONST_MASK)]
    assert masked and all(g.x_token[g.slot_node[i]] == v.mask_id for i in masked)
    assert all(g.slot_cand[i] == 0 for i in masked)
    assert all(g.x_prev[g.slot_node[i]] == v.token_id(out.original[i]) for i in range(len(out.slots)))
    t = targets(g, out.original)
    assert torch.equal(t, g.slot_target) and t.dtype == torch.long and t.shape == (len(out.slots),)
    for i, (tok, k) in enumerate(zip(out.original, t.tolist())):
        if k:
            assert g.cand_text[k] == tok and g.cand_group[k] == g.slot_group[i]
        else:
            assert tok not in {txt for txt, grp in zip(g.cand_text, g.cand_group.tolist()) if grp == g.slot_group[i]}
    # every operator is always reachable; identifiers masked everywhere and absent from the
    # vocabulary's candidates point at the null candidate 0
    assert all(k > 0 for s, k in zip(out.slots, t.tolist()) if s.kind == "op")
    assert targets(g, out.noisy)[masked].eq(0).all()
    odd = noise("def f(qqz):\n    return qqz + 1\n", 1.0, random.Random(0), mask_prob=1.0)
    assert odd.noisy[:2] == [MASK, MASK] and odd.noisy[3] == CONST_MASK
    g = program_graph(odd.tree, v, target_tokens=odd.original)
    assert g.slot_target[:2].tolist() == [0, 0]  # 'qqz' is masked everywhere and not in the vocabulary
    assert g.cand_text[int(g.slot_target[2])] == "+" and g.cand_text[int(g.slot_target[3])] == "1"


def test_clipping_and_validation():
    v = vocab()
    deep = "x = " + "-" * 40 + "1\n" + "".join(f"y{i} = {i}\n" for i in range(40))
    g = program_graph(deep, v, iteration=99)
    assert int(g.x_depth.max()) == MAX_DEPTH and int(g.x_sibling.max()) == MAX_SIBLING
    assert int(g.x_iteration.max()) == MAX_ITERATION
    assert program_graph("pass\n", v).slot_node.numel() == 0
    with pytest.raises(ProgramSyntaxError):
        program_graph("def f(:\n", v)
    with pytest.raises(GraphError):
        program_graph(ast.parse("x", mode="eval"), v)
    with pytest.raises(GraphError, match="previous_tokens"):
        program_graph(SRC, v, previous_tokens=["a"])
    with pytest.raises(GraphError, match="signal"):
        program_graph(SRC, v, signal={1: 1.5})
    with pytest.raises(GraphError):
        program_graph(SRC, v, iteration=-1)
    g = program_graph(SRC, v)
    with pytest.raises(GraphError):
        targets(g, ["a"])


def test_batching_three_graphs():
    v = vocab()
    sources = [SRC, mbpp_train()[0], mbpp_train()[1]]
    graphs = []
    for i, src in enumerate(sources):
        out = noise(src, 0.5, random.Random(i))
        graphs.append(program_graph(out.tree, v, iteration=i, target_tokens=out.original))
    batch = next(iter(DataLoader(graphs, batch_size=3, shuffle=False)))
    assert batch.num_graphs == 3
    n = [g.num_nodes for g in graphs]
    c = [g.cand_token.shape[0] for g in graphs]
    node_off = [0, n[0], n[0] + n[1]]
    cand_off = [0, c[0], c[0] + c[1]]
    assert batch.num_nodes == sum(n) and batch.cand_token.shape[0] == sum(c)
    assert batch.cand_batch.tolist() == [0] * c[0] + [1] * c[1] + [2] * c[2]
    assert batch.edge_index.max() < sum(n)
    assert torch.equal(batch.slot_node, torch.cat([g.slot_node + o for g, o in zip(graphs, node_off)]))
    assert torch.equal(batch.slot_target, torch.cat([g.slot_target + o for g, o in zip(graphs, cand_off)]))
    assert torch.equal(batch.slot_cand, torch.cat([g.slot_cand + o for g, o in zip(graphs, cand_off)]))
    assert torch.equal(batch.x_token[batch.slot_node], torch.cat([g.x_token[g.slot_node] for g in graphs]))
    # every slot points into its own graph's candidates
    slot_graph = batch.batch[batch.slot_node]
    assert torch.equal(batch.cand_batch[batch.slot_target], slot_graph)
    assert torch.equal(batch.cand_batch[batch.slot_cand], slot_graph)
    flat_text = [t for texts in batch.cand_text for t in texts]
    for g, o in zip(graphs, cand_off):
        assert [flat_text[k + o] for k in g.slot_target.tolist()] == [g.cand_text[k] for k in g.slot_target.tolist()]
    assert batch.x_iteration.tolist() == [0] * n[0] + [1] * n[1] + [2] * n[2]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.0, 0.2, 0.5, 0.75]), st.integers(0, 2**32 - 1))
def test_graph_invariants_on_noised_mbpp(index, rate, seed):
    v = vocab()
    codes = mbpp_train()
    src = codes[index % len(codes)]
    out = noise(src, rate, random.Random(seed), mask_prob=0.3)
    lines = len(out.source.splitlines())
    signal = {line: (line % 5) / 4 for line in range(1, lines + 1)}
    g = program_graph(out.tree, v, previous_tokens=out.noisy, iteration=1, signal=signal,
                      target_tokens=out.original)
    _check_graph(g, out.tree, v)
    assert float(g.x_signal.max()) <= 1.0 and float(g.x_signal.min()) >= 0.0
    assert g.cand_token.shape[0] < 250  # candidate lists stay modest
    # writing the pointed-at candidates back gives the original wherever a target exists
    t = g.slot_target.tolist()
    predicted = [g.cand_text[k] if k else cur for k, cur in zip(t, out.noisy)]
    restored = apply_tokens(out.tree, out.slots, predicted)
    assert all(p == o for p, o, k in zip(predicted, out.original, t) if k)
    assert token_nodes(restored) and len(token_nodes(restored)) == len(out.slots)
    # the same graph from the source text
    g2 = program_graph(out.source, v, previous_tokens=out.noisy, iteration=1, signal=signal)
    assert torch.equal(g2.x_token, g.x_token) and torch.equal(g2.edge_index, g.edge_index)
