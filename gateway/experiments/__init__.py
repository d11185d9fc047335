"""Experiments on tools: variants that share a tool's traffic (A/B) or run in its shadow,
the guard that stops a failing variant, and the report that compares them.

``split`` picks a call's variant, ``live`` runs calls through them (and their shadows),
``stats`` and ``report`` read the record store and compare.
"""
