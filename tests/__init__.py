"""kubemu test suite (a package so test modules and tests.support import by full name)."""
