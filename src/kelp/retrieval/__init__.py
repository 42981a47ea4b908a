"""Code search over a source tree (``kelp index`` / ``kelp search``).

:mod:`kelp.retrieval.chunking` walks a tree and cuts files into searchable chunks (Python
definitions, Markdown sections, line windows), :mod:`kelp.retrieval.explain` gives every chunk
a one-line explanation and the tier it came from, and :mod:`kelp.retrieval.code_tokens`
tokenizes code and prose for lexical (BM25) ranking.
"""
