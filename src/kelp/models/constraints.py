"""Valid-next-token constraint for edit decoding (a ``transformers`` LogitsProcessor).

An edit is ``<nK> <op> replacement... <end>``: the first generated token must be a marker of a
node in the prompt's program, the second one of the operations the node allows (``<delete>``,
``<before>`` and ``<after>`` only for statements in a statement list), then replacement tokens,
which may not be markers, section or bucket tokens, and whose brackets may not close more than
they opened. The seed system had no such constraint (its 83M workflow model never produced one
valid workflow; its edit model spent 70% of failures on bad positions).
"""

from __future__ import annotations

import ast

import torch
from transformers import LogitsProcessor

from kelp.models.edit_format import OPS, RenderedProgram
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
        banned = [i for tok, i in vocab.items() if tok.startswith("<") and tok.endswith(">") and tok in _special(vocab)]
        self.body_banned = torch.tensor(sorted(set(banned) - set(self.end_ids)), dtype=torch.long)
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
        blocked = torch.full_like(scores, float("-inf"))
        if generated == 0:
            allowed = list(self.marker_ids)
            blocked[:, allowed] = scores[:, allowed]
            return blocked
        for row in range(input_ids.shape[0]):
            if generated == 1:
                allowed = self.allowed_ops.get(int(input_ids[row, -1]), [])
                blocked[row, allowed] = scores[row, allowed]
                scores[row] = blocked[row]
            elif generated == 2 and int(input_ids[row, -1]) == self.delete_id:
                keep = scores[row, self.end_ids].clone()
                scores[row] = float("-inf")
                scores[row, self.end_ids] = keep
            else:
                if len(self.body_banned):
                    scores[row, self.body_banned] = float("-inf")
                depth = _depth(self.decode(input_ids[row, self.prompt_length + 2:].tolist(), skip_special_tokens=True))
                if depth is None:  # closed a bracket it never opened: only ending is left
                    keep = scores[row, self.end_ids].clone()
                    scores[row] = float("-inf")
                    scores[row, self.end_ids] = keep
                elif depth > 0:  # an edit cannot end inside open brackets
                    scores[row, self.end_ids] = float("-inf")
        return scores


def _special(vocab: dict) -> set[str]:
    from kelp.models.edit_format import SPECIAL_TOKENS

    return set(SPECIAL_TOKENS) & set(vocab)


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
