"""``python -m accessrl``."""

from accessrl.cli import main

main()
