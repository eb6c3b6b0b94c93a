"""Helpers shared by the tests (process launchers, clients)."""
