"""The style rule pack."""
