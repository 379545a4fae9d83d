"""``python -m alice.cli`` runs the ``alice`` command."""

from alice.cli import main

main()
