"""The security rule pack."""
