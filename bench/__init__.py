"""kubemu's benchmark: ``python -m bench`` (see bench/README.md). Never part of the tests."""
