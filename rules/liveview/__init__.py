"""The liveview rule pack."""
