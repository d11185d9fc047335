"""Rules around a call: who may make it, and whether it may happen again."""
