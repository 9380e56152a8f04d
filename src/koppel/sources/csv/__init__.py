"""koppel.sources/csv."""
