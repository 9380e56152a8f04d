"""Tests of the itslearning IMS ES target (koppel.targets.itslearning)."""
