"""`python -m koppel` is the `koppel` command."""

from koppel.cli.main import run

run()
