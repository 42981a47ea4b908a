"""The AST graph denoiser: a graph neural network that points, for every token slot of a
(noised) program graph, at the candidate token it should hold.

Input: a :class:`kelp.models.graph_features.ProgramGraph` (one graph, or a batch from
``torch_geometric.loader.DataLoader`` / ``Batch.from_data_list``). Every node is embedded as the
sum of embeddings of its type, token, previous-iteration token, parent type, depth, sibling
index, denoising iteration, a "token differs from the previous iteration" flag and a linear map
of its test signal (per-node suspiciousness), then layer-normalised.

Message passing (``GraphModelConfig.conv``):

* ``"gat"`` (default): ``layers`` pre-norm residual blocks, each a GATv2 attention layer
  (Brody et al. 2022, "How Attentive are Graph Attention Networks?", arXiv:2105.14491;
  ``torch_geometric.nn.GATv2Conv``) whose attention sees the edge type (an embedding passed as
  the edge feature, ``edge_dim=hidden``), then a small feed-forward layer.
* ``"gps"``: ``layers`` GraphGPS blocks (Rampasek et al. 2022, "Recipe for a General,
  Powerful, Scalable Graph Transformer", arXiv:2205.13962; ``torch_geometric.nn.GPSConv``): the
  same edge-typed GATv2 layer as local message passing plus multi-head self-attention over all
  nodes of the graph, so a slot sees every use of every name in one step (the reason global
  relational models beat pure message passing on variable misuse: Hellendoorn et al. 2020,
  "Global Relational Models of Source Code"). Nodes also get an embedding of their pre-order
  position in the graph (clipped to :data:`MAX_POSITION`).
* ``"unet"`` (ablation, the wording of the issue): one Graph U-Net (Gao & Ji 2019, "Graph
  U-Nets", arXiv:1905.05178; ``torch_geometric.nn.GraphUNet``) of depth ``layers`` with GCN
  layers and top-k pooling, in a residual block, then the feed-forward layer. GraphUNet
  ignores edge types (all edges are treated alike).

Output: a pointer head (Vinyals et al. 2015, "Pointer Networks", arXiv:1506.03134). Each slot
``s`` scores every candidate ``c`` of its own graph and pointer group (plus the graph's null
candidate 0, group ``"any"``): ``score = <W_q h_s, W_k e_c> / sqrt(hidden)`` with ``h_s`` the
slot node's final state and ``e_c`` = token embedding of ``cand_token[c]`` + group embedding +
``W_p`` (mean final state of the slots whose *current* token is ``c``; zeros when none). The
pooled term lets the model point at program identifiers that are ``<unk>`` in the vocabulary
(``test_tup``): they are told apart by where they occur. Only allowed (slot, candidate) pairs
are scored (:func:`pointer_pairs`); a per-slot softmax over them gives the distribution.

Checkpoints (:func:`save_graph_checkpoint`): a directory with ``model.safetensors``,
``config.json`` (:class:`GraphModelConfig`), ``vocab.json`` (:class:`GraphVocab`) and
``training.json``; no pickle.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch
from torch_geometric.nn import GATv2Conv, GPSConv, GraphUNet
from torch_geometric.utils import scatter
from torch_geometric.utils import softmax as pyg_softmax

from kelp.corrupt.token_noise import CONST_MASK, MASK
from kelp.models.edit_model import CheckpointError
from kelp.models.graph_features import (
    GROUPS,
    MAX_DEPTH,
    MAX_ITERATION,
    MAX_SIBLING,
    GraphError,
    GraphVocab,
    ProgramGraph,
)

__all__ = [
    "DEFAULT_GRAPH_CHECKPOINT",
    "CONVS",
    "GraphDenoiser",
    "GraphModelConfig",
    "PointerScores",
    "load_graph_checkpoint",
    "pointer_pairs",
    "save_graph_checkpoint",
]

#: The bundled graph-denoiser checkpoint (``kelp eval refine`` and ``--proposer graph`` default).
DEFAULT_GRAPH_CHECKPOINT = Path(__file__).parent / "checkpoints" / "graph"

#: Message-passing choices of :class:`GraphModelConfig`.
CONVS: tuple[str, ...] = ("gat", "gps", "unet")
#: Largest pre-order position embedded by the ``"gps"`` variant (later nodes share it).
MAX_POSITION = 1023
_CONFIG_FORMAT = "kelp.graph_model/1"
_NUM_GROUPS = len(GROUPS)
_CONST_GROUP = GROUPS.index("const")


@dataclass(frozen=True)
class GraphModelConfig:
    """Architecture of :class:`GraphDenoiser`.

    ``num_node_types`` / ``num_tokens`` / ``num_edge_types``: sizes of a :class:`GraphVocab`
    (use :meth:`from_vocab`); ``hidden``: width of every node state (divisible by ``heads``);
    ``layers``: message-passing blocks (``"gat"``, ``"gps"``) or U-Net depth (``"unet"``); ``heads``: GATv2
    attention heads (unused by ``"unet"``); ``dropout``: probability in [0, 1) (also GATv2
    attention dropout); ``ffn_mult``: feed-forward width / ``hidden``; ``conv``: one of
    :data:`CONVS`. Raises ValueError for inconsistent values.
    """

    num_node_types: int
    num_tokens: int
    num_edge_types: int
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    dropout: float = 0.1
    ffn_mult: int = 2
    conv: str = "gat"

    def __post_init__(self) -> None:
        for name in ("num_node_types", "num_tokens", "num_edge_types", "hidden", "layers", "heads", "ffn_mult"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.conv not in CONVS:
            raise ValueError(f"conv must be one of {CONVS}, got {self.conv!r}")

    @classmethod
    def from_vocab(cls, vocab: GraphVocab, **overrides) -> GraphModelConfig:
        """A config sized for ``vocab``; ``overrides`` set the other fields (``hidden=32``, ...)."""
        return cls(num_node_types=len(vocab.node_types), num_tokens=len(vocab.tokens),
                   num_edge_types=len(vocab.edge_types), **overrides)

    def to_json(self) -> str:
        """The config as JSON text; :meth:`from_json` reads it back."""
        return json.dumps({"format": _CONFIG_FORMAT, **asdict(self)}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> GraphModelConfig:
        """Read :meth:`to_json` output. Raises ValueError for malformed JSON, another format,
        missing or unknown fields, or invalid values."""
        try:
            doc = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"graph model config is not valid JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.pop("format", None) != _CONFIG_FORMAT:
            raise ValueError(f"not a graph model config (expected format {_CONFIG_FORMAT!r})")
        names = {f.name for f in fields(cls)}
        unknown = set(doc) - names
        if unknown:
            raise ValueError(f"graph model config has unknown fields {sorted(unknown)}")
        try:
            return cls(**doc)
        except TypeError as exc:  # missing required field
            raise ValueError(f"graph model config: {exc}") from None


class PointerScores(NamedTuple):
    """Scores of the allowed (slot, candidate) pairs of a graph batch (P pairs, S slots).

    ``logits`` (P,) float: unnormalised scores; ``slot`` (P,) long: the pair's slot (index into
    the batch's slots, non-decreasing: each slot's pairs are contiguous, its graph's null
    candidate first); ``cand`` (P,) long: the pair's candidate (index into the batch's
    candidates); ``num_slots``: S. Every slot has at least one pair (its null candidate).
    """

    logits: Tensor
    slot: Tensor
    cand: Tensor
    num_slots: int

    def probs(self) -> Tensor:
        """(P,) per-slot softmax of ``logits`` (``torch_geometric.utils.softmax``): the
        probabilities of each slot's pairs sum to 1."""
        return pyg_softmax(self.logits, self.slot, num_nodes=self.num_slots)

    def log_probs(self) -> Tensor:
        """(P,) per-slot log-softmax of ``logits`` (numerically stable, via scatter ops)."""
        top = scatter(self.logits.detach(), self.slot, 0, self.num_slots, reduce="max")
        z = self.logits - top[self.slot]
        lse = scatter(z.exp(), self.slot, 0, self.num_slots, reduce="sum").log()
        return z - lse[self.slot]

    def argmax(self) -> tuple[Tensor, Tensor]:
        """``(best (S,) long, confidence (S,) float)``: each slot's highest-scoring candidate
        (the first pair on ties) and its probability."""
        s_count = self.num_slots
        top = scatter(self.logits, self.slot, 0, s_count, reduce="max")
        is_top = self.logits == top[self.slot]
        pair = torch.arange(self.logits.numel(), device=self.logits.device)
        big = torch.full_like(pair, self.logits.numel())
        first = scatter(torch.where(is_top, pair, big), self.slot, 0, s_count, reduce="min")
        total = scatter((self.logits - top[self.slot]).exp(), self.slot, 0, s_count, reduce="sum")
        return self.cand[first], total.reciprocal()


def pointer_pairs(slot_graph: Tensor, slot_group: Tensor, cand_batch: Tensor, cand_group: Tensor,
                  num_graphs: int) -> tuple[Tensor, Tensor]:
    """The allowed (slot, candidate) pairs: same graph, and the candidate's group is the slot's
    or ``"any"`` (the null candidate).

    ``slot_graph`` (S,) long: graph of each slot (``batch[slot_node]``); ``slot_group`` (S,)
    long: pointer group ids (:data:`GROUPS`); ``cand_batch`` (C,) long: graph of each candidate;
    ``cand_group`` (C,) long. Returns ``(slot (P,), cand (P,))`` sorted by slot; within a slot,
    the ``"any"`` candidates come first, then the slot's group, each in candidate order. Costs
    O(P) memory: only allowed pairs are built (no S x C matrix).
    """
    device = slot_graph.device
    keys = num_graphs * _NUM_GROUPS
    cand_key = cand_batch * _NUM_GROUPS + cand_group
    order = torch.argsort(cand_key, stable=True)
    counts = torch.bincount(cand_key, minlength=keys)
    starts = torch.cumsum(counts, 0) - counts
    any_key = slot_graph * _NUM_GROUPS
    own_key = any_key + slot_group
    n_any = counts[any_key]
    n_own = torch.where(slot_group == 0, torch.zeros_like(n_any), counts[own_key])
    n = n_any + n_own
    slot = torch.repeat_interleave(torch.arange(slot_graph.numel(), device=device), n)
    offset = torch.arange(slot.numel(), device=device) - torch.repeat_interleave(torch.cumsum(n, 0) - n, n)
    first_any = offset < n_any[slot]
    pos = torch.where(first_any, starts[any_key][slot] + offset, starts[own_key][slot] + offset - n_any[slot])
    return slot, order[pos]


class _FeedForward(nn.Module):
    def __init__(self, hidden: int, mult: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(hidden, hidden * mult), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden * mult, hidden))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class GraphDenoiser(nn.Module):
    """Predicts the original token of every slot of a (noised) program graph by pointing at
    candidates (see the module docstring for the architecture).

    Parameter count with the default config (hidden 128, 4 GATv2 layers, 4 heads): 1,080,832
    for a vocabulary of 2,000 corpus tokens (2,031 tokens with specials and operators, 134
    node types), of which 0.57M are embeddings (each token adds 256: input and
    previous-iteration embeddings); 694,016 for ``GraphVocab.build`` over the MBPP train
    programs (520 tokens). The ``"unet"`` variant has 249,600 fewer (831,232 / 444,416).

    Batch fields read: every ``x_*`` field, ``edge_index``, ``edge_type``, ``slot_node``,
    ``slot_group``, ``slot_cand``, ``cand_token``, ``cand_group``, ``cand_batch``, ``batch``
    (absent for a single graph); ``slot_target`` for :meth:`loss`; ``cand_text`` for
    :meth:`predict`.
    """

    def __init__(self, config: GraphModelConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden
        self.node_type = nn.Embedding(config.num_node_types, h)
        self.parent_type = nn.Embedding(config.num_node_types, h)
        self.token = nn.Embedding(config.num_tokens, h)  # also the candidates' token embedding
        self.prev_token = nn.Embedding(config.num_tokens, h)
        self.depth = nn.Embedding(MAX_DEPTH + 1, h)
        self.sibling = nn.Embedding(MAX_SIBLING + 1, h)
        self.iteration = nn.Embedding(MAX_ITERATION + 1, h)
        self.changed = nn.Embedding(2, h)
        self.signal = nn.Linear(1, h)
        self.input_norm = nn.LayerNorm(h)
        self.drop = nn.Dropout(config.dropout)
        if config.conv == "gat":
            self.edge_type = nn.Embedding(config.num_edge_types, h)
            self.convs = nn.ModuleList(
                GATv2Conv(h, h // config.heads, heads=config.heads, edge_dim=h, dropout=config.dropout)
                for _ in range(config.layers))
            blocks = config.layers
        elif config.conv == "gps":
            self.edge_type = nn.Embedding(config.num_edge_types, h)
            self.position = nn.Embedding(MAX_POSITION + 1, h)
            self.convs = nn.ModuleList(
                GPSConv(h, GATv2Conv(h, h // config.heads, heads=config.heads, edge_dim=h, dropout=config.dropout),
                        heads=config.heads, dropout=config.dropout, act="gelu", norm="layer_norm",
                        norm_kwargs={"mode": "node"})
                for _ in range(config.layers))
            blocks = 0  # GPSConv has its own norms and feed-forward layer
        else:
            self.unet = GraphUNet(h, h, h, depth=config.layers, pool_ratios=0.5, sum_res=True)
            blocks = 1
        self.conv_norms = nn.ModuleList(nn.LayerNorm(h) for _ in range(blocks))
        self.ffns = nn.ModuleList(_FeedForward(h, config.ffn_mult, config.dropout) for _ in range(blocks))
        self.ffn_norms = nn.ModuleList(nn.LayerNorm(h) for _ in range(blocks))
        self.final_norm = nn.LayerNorm(h)
        self.group = nn.Embedding(_NUM_GROUPS, h)
        self.pool = nn.Linear(h, h, bias=False)
        self.query = nn.Linear(h, h, bias=False)
        self.key = nn.Linear(h, h, bias=False)

    def encode(self, batch: ProgramGraph | Batch) -> Tensor:
        """(N, hidden) float: every node's final state."""
        x = (self.node_type(batch.x_type) + self.token(batch.x_token) + self.prev_token(batch.x_prev)
             + self.parent_type(batch.x_parent_type) + self.depth(batch.x_depth)
             + self.sibling(batch.x_sibling) + self.iteration(batch.x_iteration)
             + self.changed((batch.x_token != batch.x_prev).long())
             + self.signal(batch.x_signal.to(self.signal.weight.dtype).unsqueeze(-1)))
        if self.config.conv == "gps":
            x = x + self.position(_positions(batch).clamp_max(MAX_POSITION))
        x = self.drop(self.input_norm(x))
        if self.config.conv == "gps":
            edge_attr = self.edge_type(batch.edge_type)
            node_batch = _node_batch(batch)
            for conv in self.convs:
                x = conv(x, batch.edge_index, node_batch, edge_attr=edge_attr)
        elif self.config.conv == "gat":
            edge_attr = self.edge_type(batch.edge_type)
            for conv, norm, ffn, ffn_norm in zip(self.convs, self.conv_norms, self.ffns, self.ffn_norms):
                x = x + self.drop(conv(norm(x), batch.edge_index, edge_attr))
                x = x + self.drop(ffn(ffn_norm(x)))
        else:
            with warnings.catch_warnings():  # GraphUNet's adjacency squaring: torch's beta-CSR notices
                warnings.filterwarnings("ignore", message="Sparse (CSR tensor support|invariant checks)")
                x = x + self.drop(self.unet(self.conv_norms[0](x), batch.edge_index, _node_batch(batch)))
            x = x + self.drop(self.ffns[0](self.ffn_norms[0](x)))
        return self.final_norm(x)

    def forward(self, batch: ProgramGraph | Batch) -> PointerScores:
        """Pointer scores of every allowed (slot, candidate) pair of ``batch`` (see
        :class:`PointerScores`; P pairs, S slots, C candidates, N nodes)."""
        h = self.encode(batch)
        slot_h = h[batch.slot_node]  # (S, H)
        s_count, c_count = int(batch.slot_node.numel()), int(batch.cand_token.numel())
        # mean state of the slots currently holding each (non-null) candidate; zeros for none
        holds = batch.cand_group[batch.slot_cand] != 0
        pooled = scatter(slot_h[holds], batch.slot_cand[holds], 0, c_count, reduce="mean")
        cand_e = self.token(batch.cand_token) + self.group(batch.cand_group) + self.pool(pooled)  # (C, H)
        node_batch = _node_batch(batch)
        slot, cand = pointer_pairs(node_batch[batch.slot_node], batch.slot_group, batch.cand_batch,
                                   batch.cand_group, _num_graphs(batch))
        q, k = self.query(slot_h), self.key(cand_e)
        logits = (q[slot] * k[cand]).sum(-1) / math.sqrt(q.size(-1))
        return PointerScores(logits, slot, cand, s_count)

    def loss(self, batch: ProgramGraph | Batch, corrupted_weight: float = 1.0) -> Tensor:
        """Weighted mean cross-entropy of ``batch.slot_target`` over slots (scalar tensor).

        Slot weights: ``batch.slot_weight`` ((S,) float, e.g. from test signals) when present,
        else ones; slots whose target differs from their current candidate (``slot_target !=
        slot_cand``: corrupted or masked) are further multiplied by ``corrupted_weight``. The
        loss is ``sum(w * ce) / sum(w)`` (0 when the weights sum to 0 or there are no slots).
        Raises ValueError when ``slot_target`` is absent or names a candidate the slot may not
        point at (another graph or group).
        """
        target = getattr(batch, "slot_target", None)
        if target is None:
            raise ValueError("the batch has no slot_target; build graphs with target_tokens=...")
        scores = self(batch)
        logp = scores.log_probs()
        hit = scores.cand == target[scores.slot]
        if int(hit.sum()) != scores.num_slots:
            raise ValueError("some slot_target is not an allowed candidate of its slot (graph or group)")
        nll = -logp[hit]  # (S,), pairs are sorted by slot
        weight = getattr(batch, "slot_weight", None)
        weight = torch.ones_like(nll) if weight is None else weight.to(nll.dtype)
        if corrupted_weight != 1.0:
            corrupted = target != batch.slot_cand
            weight = weight * torch.where(corrupted, torch.full_like(weight, corrupted_weight), torch.ones_like(weight))
        return (weight * nll).sum() / weight.sum().clamp_min(1e-12)

    @torch.no_grad()
    def predict(self, batch: ProgramGraph | Batch) -> tuple[list[list[str]], list[list[float]]]:
        """``(tokens, confidence)``: per graph, per slot (``token_nodes`` order), the text of the
        argmax candidate and its probability (in (0, 1]).

        When the argmax is the null candidate the slot keeps its current token (its candidate's
        text); a masked slot (current candidate = null) keeps its mask (``__mask__``, or
        ``'__mask__'`` for constants): the model has no better answer. Does not change
        train/eval mode: call ``eval()`` first for deterministic output.
        """
        best, conf = self(batch).argmax()
        node_batch = _node_batch(batch)
        num_graphs = _num_graphs(batch)
        texts = batch.cand_text
        if num_graphs == 1 and (not texts or isinstance(texts[0], str)):
            texts = [texts]
        counts = torch.bincount(batch.cand_batch, minlength=num_graphs)
        cand_start = (torch.cumsum(counts, 0) - counts).tolist()
        null = (batch.cand_group == 0).tolist()
        tokens: list[list[str]] = [[] for _ in range(num_graphs)]
        confidence: list[list[float]] = [[] for _ in range(num_graphs)]
        rows = zip(node_batch[batch.slot_node].tolist(), best.tolist(), batch.slot_cand.tolist(),
                   batch.slot_group.tolist(), conf.tolist())
        for g, c, current, group, p in rows:
            if null[c]:
                c = current
            if null[c]:
                text = CONST_MASK if group == _CONST_GROUP else MASK
            else:
                text = texts[g][c - cand_start[g]]
            tokens[g].append(text)
            confidence[g].append(p)
        return tokens, confidence


def _node_batch(batch: ProgramGraph | Batch) -> Tensor:
    """(N,) long: graph of every node (zeros for a single graph)."""
    node_batch = getattr(batch, "batch", None)
    if node_batch is None:
        return torch.zeros(batch.num_nodes, dtype=torch.long, device=batch.x_type.device)
    return node_batch


def _positions(batch: ProgramGraph | Batch) -> Tensor:
    """(N,) long: every node's index within its own graph (pre-order position)."""
    index = torch.arange(batch.num_nodes, device=batch.x_type.device)
    ptr = getattr(batch, "ptr", None)
    return index if ptr is None else index - ptr[_node_batch(batch)]


def _num_graphs(batch: ProgramGraph | Batch) -> int:
    return int(batch.num_graphs) if isinstance(batch, Batch) else 1


_FILES = ("config.json", "vocab.json", "model.safetensors")


def save_graph_checkpoint(path: Path | str, model: GraphDenoiser, vocab: GraphVocab, training: dict) -> None:
    """Write a checkpoint directory (created if needed): ``model.safetensors`` (the state dict),
    ``config.json``, ``vocab.json`` and ``training.json`` (``training`` must be
    JSON-serialisable: settings, step reached, metrics). Raises ValueError when the vocabulary
    does not match the model's config."""
    from safetensors.torch import save_file

    config = model.config
    if (len(vocab.tokens), len(vocab.node_types), len(vocab.edge_types)) != (
            config.num_tokens, config.num_node_types, config.num_edge_types):
        raise ValueError("the vocabulary's sizes differ from the model config's")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path / "model.safetensors"))
    (path / "config.json").write_text(config.to_json())
    (path / "vocab.json").write_text(vocab.to_json())
    (path / "training.json").write_text(json.dumps(training, indent=2) + "\n")


def load_graph_checkpoint(path: Path | str) -> tuple[GraphDenoiser, GraphVocab, dict]:
    """``(model in eval mode, vocabulary, training dict)`` from a :func:`save_graph_checkpoint`
    directory (``training.json`` is optional: ``{}`` without it). Raises CheckpointError naming
    the missing or corrupt file (or the directory when absent)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a graph-model checkpoint directory")
    for name in _FILES:
        if not (path / name).is_file():
            raise CheckpointError(f"{path} is not a graph-model checkpoint: {name} is missing")
    try:
        config = GraphModelConfig.from_json((path / "config.json").read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path / 'config.json'} is corrupt: {exc}") from None
    try:
        vocab = GraphVocab.from_json((path / "vocab.json").read_text())
    except (GraphError, ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path / 'vocab.json'} is corrupt: {exc}") from None
    if (len(vocab.tokens), len(vocab.node_types), len(vocab.edge_types)) != (
            config.num_tokens, config.num_node_types, config.num_edge_types):
        raise CheckpointError(f"{path}: vocab.json and config.json disagree on vocabulary sizes")
    model = GraphDenoiser(config)
    try:
        state = load_file(str(path / "model.safetensors"))
        model.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path / 'model.safetensors'} is corrupt or does not match config.json: {exc}") from None
    training_path = path / "training.json"
    try:
        training = json.loads(training_path.read_text()) if training_path.exists() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{training_path} is corrupt: {exc}") from None
    model.eval()
    return model, vocab, training
