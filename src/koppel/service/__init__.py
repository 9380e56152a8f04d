"""koppel.service."""
