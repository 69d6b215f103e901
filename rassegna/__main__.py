"""`python -m rassegna` is the `rassegna` command."""

from rassegna.cli import main

main()
