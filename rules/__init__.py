"""Exhort's rules, one module per rule, grouped in packs (one subpackage per category).

Each module defines RULE = exhort.rule.Rule(...) and its check; see README.md "Adding a rule".
"""
