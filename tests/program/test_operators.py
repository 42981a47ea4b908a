"""The operator table (kelp.program.operators): every operator mutation the forward process can
make has its inverse among the enumerator's repairs, in the table and in the candidates the
enumerator proposes for a mutated program."""

import ast

import pytest

from kelp.corrupt.mutations import FAMILY_SITES, SiteContext
from kelp.program.operators import (
    BINARY, BOOLEAN, COMPARE, NON_COMMUTATIVE, TABLES, Alternatives, missing_inverses,
)
from kelp.program.tree import OPERATOR_SYMBOLS, parse, replace_at, unparse
from kelp.repair.enumerate import EnumerativeProposer
from kelp.repair.proposer import Feedback


def _programs(ops) -> list[str]:
    """One small function per operator: ``return a <op> b``."""
    return [f"def f(a, b):\n    return a {OPERATOR_SYMBOLS[op]} b\n" for op in ops]


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_mutation_has_its_inverse_among_the_repairs(name):
    assert missing_inverses(TABLES[name]) == []


def test_missing_inverses_reports_a_one_way_mutation():
    table = {**BINARY, ast.Add: Alternatives((ast.MatMult,), BINARY[ast.Add].repairs)}
    assert missing_inverses(table) == [(ast.Add, ast.MatMult)]


def test_the_tables_are_well_formed():
    for table, base in ((BINARY, ast.operator), (COMPARE, ast.cmpop), (BOOLEAN, ast.boolop)):
        for op, alts in table.items():
            ops = [op, *alts.mutations, *(alt for alt, _w in alts.repairs)]
            assert all(issubclass(o, base) for o in ops), op
            assert op not in alts.mutations and op not in [alt for alt, _w in alts.repairs], op
            assert len(set(alts.mutations)) == len(alts.mutations), op
            assert all(w > 0 for _alt, w in alts.repairs), op
    assert all(issubclass(op, ast.operator) for op in NON_COMMUTATIVE)


@pytest.mark.parametrize("family, ops", [("binop_flip", list(BINARY)), ("compare_flip", list(COMPARE)),
                                         ("boolop_flip", list(BOOLEAN)), ("swap_args", list(NON_COMMUTATIVE))])
def test_the_enumerator_undoes_every_operator_mutation_of_the_forward_process(family, ops):
    """Each option of the operator families, applied to ``return a <op> b``, is undone by one of
    the enumerator's candidates of the same family."""
    undone = 0
    for source in _programs(ops):
        tree = parse(source)
        original = unparse(tree)
        sites = FAMILY_SITES[family](SiteContext(tree))
        assert sites, source
        for site in sites:
            for option in site.options:
                buggy = parse(unparse(replace_at(tree, site.path, option.new)))
                fixes = {unparse(c.edit.apply(buggy, check=False))
                         for c in EnumerativeProposer().propose(buggy, Feedback()) if c.family == family}
                assert original in fixes, f"{family}: no inverse for {unparse(buggy)!r}"
                undone += 1
    assert undone >= len(ops)
