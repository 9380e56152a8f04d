"""Target connectors: each applies plan changes to one learning platform (DESIGN §8)."""
