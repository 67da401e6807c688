"""Exhort: an expert reviewer of Elixir backend code, as a language server and a CLI."""

__version__ = "0.1.0"

# The project's home. Links to a rule's page (SARIF `helpUri`, the LSP diagnostic's
# `codeDescription.href`, the index in docs/rules/) are built from it and RULE_DOCS.
REPOSITORY_URL = "https://github.com/exhort-dev/exhort"
RULE_DOCS = "docs/rules"  # the generated rule pages, relative to the repository's root


def rule_docs_url(code: str) -> str:
    """The web address of a rule's generated page (`python -m exhort.docs` writes it)."""
    return f"{REPOSITORY_URL}/blob/main/{RULE_DOCS}/{code}.md"
