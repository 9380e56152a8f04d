"""koppel.apply."""
