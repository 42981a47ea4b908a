"""kelp.program: Python source as trees (parse, normalised unparse, paths, spans, scopes,
tree_diff). Pure code: no randomness, no I/O."""

from kelp.program.diff import Edit, EditError, apply_edits, tree_diff
from kelp.program.fragment import parse_expr, parse_fragment, parse_stmt
from kelp.program.scope import Binding, bindings, constants, names_in_scope, visible_bindings
from kelp.program.spans import line_nodes, span, span_at
from kelp.program.tree import (
    FunctionInfo,
    Path,
    PathError,
    ProgramError,
    ProgramSyntaxError,
    ast_hash,
    extract_function,
    find_function,
    functions,
    insert_at,
    is_docstring,
    iter_nodes,
    node_at,
    node_source,
    normalise,
    parse,
    replace_at,
    splice_at,
    unparse,
)

__all__ = [
    "Binding", "Edit", "EditError", "FunctionInfo", "Path", "PathError", "ProgramError",
    "ProgramSyntaxError", "apply_edits", "ast_hash", "bindings", "constants", "extract_function",
    "find_function", "functions", "insert_at", "is_docstring", "iter_nodes", "line_nodes",
    "names_in_scope", "node_at", "node_source", "normalise", "parse", "parse_expr",
    "parse_fragment", "parse_stmt", "replace_at", "span", "span_at", "splice_at", "tree_diff",
    "unparse", "visible_bindings",
]
