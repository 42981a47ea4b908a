"""The forward process: seeded corruption of a correct program into a realistic buggy one.

``corrupt(source, steps, seed, policy)`` applies ``steps`` mutations one after another; each
step picks a family uniformly among those applicable to the current tree, then a site
uniformly among that family's sites, then an option (uniform, or weighted for
``wrong_variable``). A candidate is kept only if the program still compiles and differs
from both the current and the original program; otherwise the next candidate is drawn
(same rng), so the result depends on (source, steps, seed, policy, bank) alone, across
processes. The tree_diff from the corrupted program back to the original is the reverse path
a denoiser learns (Kelp tree diffusion; cf. Austin et al., "Structured Denoising Diffusion
Models in Discrete State-Spaces", NeurIPS 2021, for the forward/reverse framing).
"""

from __future__ import annotations

import ast
import random
import warnings
from dataclasses import dataclass

from kelp.corrupt.errors import CorruptionError
from kelp.corrupt.excess import EXCESS_FAMILIES, EXCESS_SITES
from kelp.corrupt.mutations import FAMILY_SITES, Option, Site, SiteContext
from kelp.program.tree import (
    Path,
    ProgramError,
    find_function,
    node_at,
    node_source,
    parse,
    replace_at,
    splice_at,
    unparse,
)

__all__ = ["CALL_FAMILIES", "EXCESS_FAMILIES", "FAMILIES", "POLICIES", "Mutation", "Corruption", "mutate", "corrupt"]

FAMILIES: tuple[str, ...] = (
    "binop_flip", "compare_flip", "boolop_flip", "wrong_variable", "off_by_one",
    "negate_condition", "drop_condition", "swap_args", "delete_statement", "change_constant",
)
#: Misuse of calls as people write it (a forgotten ``abs``, a discarded ``sorted``, ``len`` for
#: ``sum``): the ``calls`` policy, for training data (the benchmarks keep ``realistic``).
CALL_FAMILIES: tuple[str, ...] = ("drop_call", "discard_result", "swap_call")
POLICIES: tuple[str, ...] = ("realistic", "calls", "excess", "bank", "mixed")
#: Every family by name: the mutation families and the excess-logic ones (:mod:`kelp.corrupt.excess`).
SITES = {**FAMILY_SITES, **EXCESS_SITES}


@dataclass(frozen=True)
class Mutation:
    """One applied mutation: ``family``; ``path`` of the mutated node in the tree it was
    applied to (for a deletion or unwrap, the statement's path); ``before``/``after``: the
    node's normalised source (``node_source``; operators are symbols; ``after`` is ``""`` for
    a deletion and the body's statements joined by newlines for an unwrap)."""

    family: str
    path: Path
    before: str
    after: str

    def to_json(self) -> dict:
        """JSON-serialisable dict (path as a list)."""
        return {"family": self.family, "path": list(self.path), "before": self.before, "after": self.after}

    @classmethod
    def from_json(cls, d: dict) -> "Mutation":
        """Inverse of :meth:`to_json`."""
        return cls(d["family"], tuple(d["path"]), d["before"], d["after"])


@dataclass(frozen=True)
class Corruption:
    """A corrupted program: ``source`` (normalised, compiles), ``original`` (normalised input),
    the ``mutations`` in application order, and the ``seed`` used."""

    source: str
    original: str
    mutations: tuple[Mutation, ...]
    seed: int

    def to_json(self) -> dict:
        """JSON-serialisable dict."""
        return {"source": self.source, "original": self.original, "seed": self.seed,
                "mutations": [m.to_json() for m in self.mutations]}

    @classmethod
    def from_json(cls, d: dict) -> "Corruption":
        """Inverse of :meth:`to_json`."""
        return cls(d["source"], d["original"], tuple(Mutation.from_json(m) for m in d["mutations"]), d["seed"])


def _compiles(source: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, "<corrupt>", "exec")
        except (SyntaxError, ValueError, RecursionError):
            return False
    return True


def _apply(tree: ast.Module, site: Site, opt: Option) -> tuple[ast.Module, str, str]:
    old = node_at(tree, site.path)
    if opt.kind == "replace":
        return replace_at(tree, site.path, opt.new), node_source(old), node_source(opt.new)
    if opt.kind == "delete":
        return replace_at(tree, site.path, None), node_source(old), ""
    if opt.kind == "splice":
        return splice_at(tree, site.path, opt.new), node_source(old), "\n".join(node_source(s) for s in opt.new)
    raise CorruptionError(f"unknown option kind {opt.kind!r}")


def _pick_weighted(options: list[Option], rng: random.Random) -> int:
    total = sum(o.weight for o in options)
    x = rng.random() * total
    for i, o in enumerate(options):
        x -= o.weight
        if x < 0:
            return i
    return len(options) - 1


def _step(tree: ast.Module, families: tuple[str, ...], rng: random.Random, ctx: SiteContext,
          forbidden: tuple[str, ...]) -> tuple[ast.Module, Mutation] | None:
    """One mutation from the first applicable of ``families`` choices; None if none works.
    ``forbidden``: normalised sources the result must not equal."""
    site_lists = {f: SITES[f](ctx) for f in families}
    live = [f for f in families if site_lists[f]]
    while live:
        fam = live[rng.randrange(len(live))]
        sites = site_lists[fam]
        while sites:
            idx = rng.randrange(len(sites))
            site = sites[idx]
            options = site.expand(rng)
            while options:
                opt = options.pop(_pick_weighted(options, rng))
                try:
                    out, before, after = _apply(tree, site, opt)
                    src = unparse(out)
                except (ProgramError, ValueError, TypeError, AttributeError, RecursionError):
                    continue
                if src in forbidden or not _compiles(src):
                    continue
                return parse(src), Mutation(fam, site.path, before, after)
            sites.pop(idx)
        live.remove(fam)
    return None


def _check_family(family: str, bank) -> None:
    if family not in SITES:
        raise CorruptionError(f"unknown mutation family {family!r}; expected one of {tuple(SITES)}")
    if family == "bank_swap" and bank is None:
        raise CorruptionError("the bank_swap family needs a SubtreeBank (bank=...)")


def mutate(tree: ast.Module, family: str, rng: random.Random, bank=None, *,
           within: Path | None = None, avoid: tuple[Path, ...] = ()) -> tuple[ast.Module, Mutation] | None:
    """Apply one mutation of ``family`` to a copy of ``tree``.

    Returns ``(new_tree, mutation)`` (the new tree is re-parsed from its normalised source,
    so paths match ``parse(unparse(new_tree))``), or None when the family has no site whose
    result compiles and differs. ``within``: only mutate nodes under this path (e.g. a
    function's ``(..., "body")``); ``avoid``: paths whose ancestors/descendants are skipped.
    Raises CorruptionError for an unknown family or bank_swap without a bank.
    """
    _check_family(family, bank)
    ctx = SiteContext(tree, within=within, avoid=tuple(avoid), bank=bank)
    return _step(tree, (family,), rng, ctx, (unparse(tree),))


def corrupt(source: str, steps: int = 1, seed: int = 0, policy: str = "realistic", bank=None,
            target: str | None = None, *, strict: bool = True) -> Corruption:
    """Corrupt ``source`` with ``steps`` seeded mutations.

    ``policy``: "realistic" (families in FAMILIES), "calls" (CALL_FAMILIES, the misuse of
    calls; for training data), "excess" (EXCESS_FAMILIES, code that should not be there; for
    training data), "bank" (every step a bank_swap; needs
    ``bank``), "mixed" (each step 50/50 bank or realistic, falling back to the other; needs
    ``bank``). ``target``: a function name or qualname; only its body is mutated. Sites of
    earlier steps (and their ancestors/descendants) are avoided where possible.
    ``strict`` (default): a step where nothing applies raises; with ``strict=False`` the
    corruption stops early and returns the mutations made so far (at least one).
    Raises ProgramSyntaxError if ``source`` does not parse, CorruptionError for bad arguments,
    a missing target, or when no mutation applies at some step.
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise CorruptionError(f"steps must be a positive integer, got {steps!r}")
    if policy not in POLICIES:
        raise CorruptionError(f"unknown policy {policy!r}; expected one of {POLICIES}")
    if policy in ("bank", "mixed") and bank is None:
        raise CorruptionError(f"policy {policy!r} needs a SubtreeBank (bank=...)")
    original = unparse(parse(source))
    tree = parse(original)
    rng = random.Random(seed)
    mutations: list[Mutation] = []
    for step in range(steps):
        within = None
        if target is not None:
            try:
                within = find_function(tree, target).path + ("body",)
            except ProgramError as exc:
                raise CorruptionError(f"cannot corrupt target: {exc}") from None
        if policy == "realistic":
            groups = [FAMILIES]
        elif policy == "calls":
            groups = [CALL_FAMILIES]
        elif policy == "excess":
            groups = [EXCESS_FAMILIES]
        elif policy == "bank":
            groups = [("bank_swap",)]
        else:
            groups = [("bank_swap",), FAMILIES]
            if rng.random() >= 0.5:
                groups.reverse()
        current = unparse(tree)
        result = None
        for avoid in (tuple(m.path for m in mutations), ()):
            for fams in groups:
                ctx = SiteContext(tree, within=within, avoid=avoid, bank=bank)
                result = _step(tree, fams, rng, ctx, (current, original))
                if result is not None:
                    break
            if result is not None or not avoid:
                break
        if result is None and mutations and not strict:
            break
        if result is None:
            where = f" in function {target!r}" if target else ""
            raise CorruptionError(
                f"no {policy} mutation applies{where} at step {step + 1} of {steps} "
                f"(the program offers no operator, condition, variable, constant or statement to corrupt)"
            )
        tree, mutation = result
        mutations.append(mutation)
    return Corruption(unparse(tree), original, tuple(mutations), seed)
