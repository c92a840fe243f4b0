"""Reproductions of the peers' methods, kept apart from the engine: used by the tests only."""
