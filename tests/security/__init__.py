"""Hostile-candidate tests of the sandbox (a package, so its conftest does not shadow tests/conftest.py)."""
