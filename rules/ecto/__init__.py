"""The ecto rule pack."""
