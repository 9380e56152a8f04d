"""koppel.state."""
