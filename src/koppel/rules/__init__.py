"""koppel.rules."""
