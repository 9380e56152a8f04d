"""koppel.sandbox."""
