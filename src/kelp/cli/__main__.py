"""``python -m kelp.cli``: the same as the ``kelp`` command."""

from kelp.cli import main

main()
