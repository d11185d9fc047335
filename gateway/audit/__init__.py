"""Recording calls: the append-only store and the views read back from it."""
