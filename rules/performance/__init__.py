"""The performance rule pack."""
