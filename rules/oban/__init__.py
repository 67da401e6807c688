"""The oban rule pack."""
