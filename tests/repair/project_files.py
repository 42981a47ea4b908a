"""Writing small real projects for the tests of repair inside projects."""

import textwrap


def make(root, files: dict[str, str]):
    """Write ``files`` (relative path -> text, dedented) under ``root``; returns ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root
