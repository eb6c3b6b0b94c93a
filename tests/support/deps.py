"""Policy for missing test dependencies: skip on a developer machine, fail under CI.

Under ``CI=true`` every dependency the suite declares must be present, so a
missing one is a failure there, never a silent skip.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """True when the ``CI`` environment variable is ``true`` or ``1`` (any case)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def missing_dependency(message: str) -> NoReturn:
    """Fail the test under CI, skip it elsewhere; ``message`` says what is missing and how
    to get it."""
    if in_ci():
        pytest.fail(f"missing test dependency (CI=true): {message}", pytrace=False)
    pytest.skip(f"missing test dependency: {message}")
