"""Typed converters of one value, one module per family of types.

Each family module offers ``to_agent`` and ``to_legacy`` builders per type: given a
``ValueSpec`` they return a closure with every decision already taken. ``values`` picks
the builder by the spec's type and adds what all types share (nulls, constants, widths).
"""
