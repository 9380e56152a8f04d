"""PURE: no I/O, no clock, no globals. Desired + state + policy + today -> Plan (DESIGN §5)."""
