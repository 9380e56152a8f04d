"""koppel: the open-source koppeling between a school's LAS and its learning platforms."""

__version__ = "0.1.0"
