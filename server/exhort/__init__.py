"""Exhort: an expert reviewer of Elixir backend code, as a language server and a CLI."""

__version__ = "0.1.0"
