"""koppel.cli."""
