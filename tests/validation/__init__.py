"""Validation of fbsim against queueing theory and against Ciw (a peer simulator)."""
