"""Valid-next-token constraint for edit decoding (a ``transformers`` LogitsProcessor).

An edit is ``<nK> <op> replacement... <end>``: the first generated token must be a marker of a
node in the prompt's program, the second one of the operations the node allows (``<delete>``,
``<before>`` and ``<after>`` only for statements in a statement list), then replacement tokens,
which may not be markers, section or bucket tokens, and whose brackets may not close more than
they opened. The processor masks every next token that would break one of these rules.
"""

from __future__ import annotations

import ast

import torch
from transformers import LogitsProcessor

from kelp.models.edit_format import OPS, SPECIAL_TOKENS, RenderedProgram
from kelp.program.tree import node_at

_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}


class EditConstraint(LogitsProcessor):
    """Masks the scores of tokens that cannot continue a valid edit of ``program``.

    ``prompt_length``: tokens in the (unpadded, left-aligned) prompt; generated tokens start
    there. Scores of shape (batch * beams, vocab) are changed in place and returned."""

    def __init__(self, tokenizer, program: RenderedProgram, prompt_length: int):
        vocab = tokenizer.get_vocab()
        self.prompt_length = prompt_length
        self.marker_ids = {vocab[f"<n{k}>"]: k for k in range(len(program.paths))}
        self.op_ids = {op: vocab[op] for op in OPS}
        self.end_ids = [vocab["<end>"], vocab["<eos>"]]
        self.body_banned = sorted(vocab[t] for t in SPECIAL_TOKENS if t in vocab and vocab[t] not in self.end_ids)
        self.allowed_ops = {}
        for marker_id, k in self.marker_ids.items():
            path = program.paths[k]
            node = node_at(program.tree, path)
            ops = ["<replace>"]
            if isinstance(node, ast.stmt) and path and isinstance(path[-1], int):
                ops += ["<before>", "<after>"]
                siblings = getattr(node_at(program.tree, path[:-2]), path[-2]) if len(path) >= 2 else []
                if len(siblings) > 1:
                    ops.append("<delete>")
            self.allowed_ops[marker_id] = [self.op_ids[o] for o in ops]
        self.delete_id = self.op_ids["<delete>"]
        self.decode = tokenizer.decode

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids.shape[1] - self.prompt_length
        for row in range(input_ids.shape[0]):
            last = int(input_ids[row, -1])
            if generated == 0:
                _only(scores, row, list(self.marker_ids))
            elif generated == 1:
                _only(scores, row, self.allowed_ops.get(last, []))
            elif generated == 2 and last == self.delete_id:
                _only(scores, row, self.end_ids)
            else:
                scores[row, self.body_banned] = float("-inf")
                depth = _depth(self.decode(input_ids[row, self.prompt_length + 2:].tolist(), skip_special_tokens=True))
                if depth is None:  # closed a bracket it never opened: only ending is left
                    _only(scores, row, self.end_ids)
                elif depth > 0:  # an edit cannot end inside open brackets
                    scores[row, self.end_ids] = float("-inf")
        return scores


def _only(scores: torch.FloatTensor, row: int, allowed: list[int]) -> None:
    """Set every score of ``row`` to -inf except those of ``allowed`` (in place)."""
    keep = scores[row, allowed].clone()
    scores[row] = float("-inf")
    scores[row, allowed] = keep


def _depth(text: str) -> int | None:
    """Open brackets in ``text`` outside string literals (a rough scan: quotes toggle), or
    ``None`` when a bracket closes one that was never opened."""
    stack: list[str] = []
    quote = None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in _OPEN:
            stack.append(ch)
        elif ch in _CLOSE:
            if not stack or stack[-1] != _CLOSE[ch]:
                return None
            stack.pop()
    return len(stack)
