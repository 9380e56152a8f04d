"""koppel.validation."""
