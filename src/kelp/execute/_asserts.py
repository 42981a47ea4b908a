"""Test asserts rewritten to report their values: the sandbox child compiles every test with it, and
the repair search's profiling runs (:mod:`kelp.repair.equivalence`) build their tests with it so
that their failures read as the sandbox's. Standard library only: the child loads this file
beside itself."""

from __future__ import annotations

import ast

#: Characters of an assert's own text kept in its failure message.
TEXT_CAP = 200


def rewrite_asserts(source: str, filename: str = "<test>") -> ast.Module:
    """The tree of the test statements ``source`` with each top-level ``assert`` without a
    message rewritten to raise, when it fails, an ``AssertionError`` that reports the values
    (``assert f(1) == 2`` -> ``assert f(1) == 2 failed: left = 3, right = 2``) through
    ``__kelp_explain_compare__`` / ``__kelp_explain_value__``, which the namespace of the tests
    provides. Raises SyntaxError for a source that does not parse."""
    tree = ast.parse(source, filename)
    body = []
    for node in tree.body:
        if not isinstance(node, ast.Assert) or node.msg is not None:
            body.append(node)
            continue
        text = ast.get_source_segment(source, node) or "assert"
        text = text if len(text) <= TEXT_CAP else text[: TEXT_CAP - 3] + "..."
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            names = ("__kelp_l__", "__kelp_r__")
            stmts = [ast.Assign([ast.Name(names[0], ast.Store())], test.left),
                     ast.Assign([ast.Name(names[1], ast.Store())], test.comparators[0])]
            cond = ast.Compare(ast.Name(names[0], ast.Load()), test.ops, [ast.Name(names[1], ast.Load())])
            fail = ast.Call(ast.Name("__kelp_explain_compare__", ast.Load()),
                            [ast.Constant(text), ast.Name(names[0], ast.Load()),
                             ast.Name(names[1], ast.Load())], [])
        else:
            stmts = [ast.Assign([ast.Name("__kelp_v__", ast.Store())], test)]
            cond = ast.Name("__kelp_v__", ast.Load())
            fail = ast.Call(ast.Name("__kelp_explain_value__", ast.Load()),
                            [ast.Constant(text), ast.Name("__kelp_v__", ast.Load())], [])
        stmts.append(ast.If(ast.UnaryOp(ast.Not(), cond), [ast.Expr(fail)], []))
        for stmt in stmts:
            ast.copy_location(stmt, node)
        body.extend(stmts)
    tree.body = body
    ast.fix_missing_locations(tree)
    return tree
