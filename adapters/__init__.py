"""Protocol adapters: one module per legacy protocol, found by name (see ``registry``)."""
