"""Source connectors: each turns an outside format into a Roster (DESIGN §8)."""
