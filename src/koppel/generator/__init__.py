"""koppel.generator."""
