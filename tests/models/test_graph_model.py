"""The graph denoiser on real MBPP program graphs: pointer pairs, per-slot softmax, batching
invariance, overfitting one program, checkpoints, and both message-passing variants."""

import json
import random
from functools import lru_cache

import pytest
import torch
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader

from kelp.corrupt.token_noise import CONST_MASK, MASK, noise
from kelp.datasets.loaders import load_mbpp
from kelp.models.edit_model import CheckpointError, parameter_count
from kelp.models.graph_features import GROUPS, GraphVocab, program_graph
from kelp.models.graph_model import (
    GraphDenoiser,
    GraphModelConfig,
    load_graph_checkpoint,
    pointer_pairs,
    save_graph_checkpoint,
)


@lru_cache(maxsize=1)
def programs() -> tuple[str, ...]:
    return tuple(p.code for p in load_mbpp("train")[:50])


@lru_cache(maxsize=1)
def vocab() -> GraphVocab:
    return GraphVocab.build(programs())


def graph(i: int, rate: float = 0.2, signal: dict[int, float] | None = None):
    noised = noise(programs()[i], rate, random.Random(i))
    return program_graph(noised.tree, vocab(), signal=signal, target_tokens=noised.original)


def model(seed: int = 0, **overrides) -> GraphDenoiser:
    torch.manual_seed(seed)
    overrides = {"hidden": 32, "layers": 2, "heads": 2, **overrides}
    return GraphDenoiser(GraphModelConfig.from_vocab(vocab(), **overrides))


def test_config_json_round_trip_and_validation():
    config = GraphModelConfig.from_vocab(vocab(), hidden=64, conv="unet", dropout=0.0)
    assert GraphModelConfig.from_json(config.to_json()) == config
    for bad in ({"hidden": 30, "heads": 4}, {"conv": "gcn"}, {"dropout": 1.0}, {"layers": 0}):
        with pytest.raises(ValueError):
            GraphModelConfig.from_vocab(vocab(), **bad)
    doc = json.loads(config.to_json())
    doc["extra"] = 1
    with pytest.raises(ValueError, match="unknown"):
        GraphModelConfig.from_json(json.dumps(doc))
    with pytest.raises(ValueError):
        GraphModelConfig.from_json("{")


def test_default_parameter_count_in_range():
    n = parameter_count(GraphDenoiser(GraphModelConfig.from_vocab(vocab())))
    assert 300_000 < n < 3_000_000


def test_shapes_pairs_and_per_slot_softmax():
    graphs = [graph(i, signal={2: 0.5}) for i in range(3)]
    batch = Batch.from_data_list(graphs)
    m = model().eval()
    scores = m(batch)
    p = scores.logits.numel()
    assert scores.slot.shape == scores.cand.shape == (p,)
    assert scores.num_slots == batch.slot_node.numel() == sum(g.slot_node.numel() for g in graphs)
    assert torch.all(scores.slot[1:] >= scores.slot[:-1])
    # every pair: same graph, same group or the null candidate; no duplicates
    slot_graph = batch.batch[batch.slot_node][scores.slot]
    assert torch.equal(slot_graph, batch.cand_batch[scores.cand])
    cg = batch.cand_group[scores.cand]
    assert torch.all((cg == batch.slot_group[scores.slot]) | (cg == GROUPS.index("any")))
    assert len(set(zip(scores.slot.tolist(), scores.cand.tolist()))) == p
    # and every allowed pair is there (brute force over the S x C matrix)
    s_graph, s_group = batch.batch[batch.slot_node].tolist(), batch.slot_group.tolist()
    c_graph, c_group = batch.cand_batch.tolist(), batch.cand_group.tolist()
    expected = {(s, c) for s in range(scores.num_slots) for c in range(len(c_graph))
                if c_graph[c] == s_graph[s] and c_group[c] in (0, s_group[s])}
    assert set(zip(scores.slot.tolist(), scores.cand.tolist())) == expected
    sums = torch.zeros(scores.num_slots).index_add_(0, scores.slot, scores.probs())
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-5)
    assert torch.allclose(scores.log_probs().exp(), scores.probs(), atol=1e-6)
    loss = m.loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss)
    tokens, conf = m.predict(batch)
    assert [len(t) for t in tokens] == [len(c) for c in conf] == [g.slot_node.numel() for g in graphs]
    assert all(0.0 < c <= 1.0 for cs in conf for c in cs)


def test_pointer_pairs_small_example():
    # graph 0: candidates null, ident x2, const; graph 1: null, ident
    cand_batch = torch.tensor([0, 0, 0, 0, 1, 1])
    ident, const = GROUPS.index("ident"), GROUPS.index("const")
    cand_group = torch.tensor([0, ident, const, ident, 0, ident])
    slot_graph = torch.tensor([0, 0, 1])
    slot_group = torch.tensor([ident, const, ident])
    slot, cand = pointer_pairs(slot_graph, slot_group, cand_batch, cand_group, 2)
    assert list(zip(slot.tolist(), cand.tolist())) == [(0, 0), (0, 1), (0, 3), (1, 0), (1, 2), (2, 4), (2, 5)]


@pytest.mark.parametrize("conv", ["gat", "gps"])
def test_predictions_do_not_depend_on_batching(conv):
    graphs = [graph(i) for i in (3, 4, 5)]
    m = model(seed=1, conv=conv).eval()
    alone_tokens, alone_conf = m.predict(graphs[1])
    batched = next(iter(DataLoader(graphs, batch_size=3)))
    tokens, conf = m.predict(batched)
    assert tokens[1] == alone_tokens[0]
    assert conf[1] == pytest.approx(alone_conf[0], abs=1e-5)
    alone = m(graphs[1])
    scores = m(batched)
    in_graph = batched.batch[batched.slot_node][scores.slot] == 1
    assert torch.allclose(scores.logits[in_graph], alone.logits, atol=1e-5)


def test_predict_keeps_current_token_or_mask_on_null():
    g = graph(6, rate=0.5)
    m = model(seed=2).eval()
    # force every slot's argmax to the null candidate
    with torch.no_grad():
        m.key.weight.zero_()
        m.query.weight.zero_()
    tokens, _ = m.predict(g)
    slots_text = [g.cand_text[c] if c else None for c in g.slot_cand.tolist()]
    assert None in slots_text  # some slot is masked
    groups = g.slot_group.tolist()
    for tok, cur, grp in zip(tokens[0], slots_text, groups):
        assert tok == (cur if cur is not None else (CONST_MASK if GROUPS[grp] == "const" else MASK))


def test_overfits_one_program():
    g = graph(7)
    m = model(seed=3, dropout=0.0)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(100):
        loss = m.loss(g, corrupted_weight=2.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0]
    m.eval()
    best, _ = m(g).argmax()
    accuracy = (best == g.slot_target).float().mean().item()
    assert accuracy >= 0.9


def test_loss_weights():
    g = graph(8)
    m = model(seed=4).eval()
    with torch.no_grad():
        base = m.loss(g)
        g.slot_weight = torch.ones(g.slot_node.numel())
        assert torch.allclose(m.loss(g), base)
        corrupted = g.slot_target != g.slot_cand
        g.slot_weight = corrupted.float()
        only_corrupted = m.loss(g)
        del g.slot_weight
        heavy = m.loss(g, corrupted_weight=1e6)
        assert torch.allclose(heavy, only_corrupted, atol=1e-3)
    bad = graph(8)
    bad.slot_target = bad.slot_target.clone()
    bad.slot_target[0] = bad.cand_token.numel() + 5  # no such candidate
    with pytest.raises(ValueError, match="allowed candidate"):
        m.loss(bad)


def test_checkpoint_round_trip(tmp_path):
    m = model(seed=5).eval()
    batch = Batch.from_data_list([graph(i) for i in (9, 10)])
    save_graph_checkpoint(tmp_path / "ckpt", m, vocab(), {"step": 12, "lr": 1e-3})
    loaded, v, training = load_graph_checkpoint(tmp_path / "ckpt")
    assert not loaded.training
    assert loaded.config == m.config and v.tokens == vocab().tokens and training == {"step": 12, "lr": 1e-3}
    with torch.no_grad():
        assert torch.equal(loaded(batch).logits, m(batch).logits)
    assert loaded.predict(batch) == m.predict(batch)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not a graph-model checkpoint"):
        load_graph_checkpoint(tmp_path / "absent")
    path = tmp_path / "ckpt"
    save_graph_checkpoint(path, model(), vocab(), {})
    (path / "vocab.json").unlink()
    with pytest.raises(CheckpointError, match="vocab.json is missing"):
        load_graph_checkpoint(path)
    save_graph_checkpoint(path, model(), vocab(), {})
    (path / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_graph_checkpoint(path)
    save_graph_checkpoint(path, model(), vocab(), {})
    (path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="config.json"):
        load_graph_checkpoint(path)


@pytest.mark.parametrize("conv", ["gat", "gps", "unet"])
def test_forward_backward(conv):
    m = model(seed=6, conv=conv).train()
    batch = next(iter(DataLoader([graph(i) for i in (11, 12)], batch_size=2)))
    loss = m.loss(batch)
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in m.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert m.key.weight.grad is not None and m.pool.weight.grad is not None
