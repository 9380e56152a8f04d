"""koppel.testing."""
