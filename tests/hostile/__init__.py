"""Hostile and mistaken input (issue 10): each test feeds what a user or a hostile file produces
and asserts no traceback, no hang and no unbounded growth."""
