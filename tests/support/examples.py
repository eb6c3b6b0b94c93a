"""Every creatable built-in kind's example (see :mod:`tests.support.examples_base`)."""

from __future__ import annotations

from tests.support.examples_apis import APIS_EXAMPLES
from tests.support.examples_base import Example
from tests.support.examples_core import CORE_EXAMPLES

#: The review kinds and ``bindings`` are create-only and have no example here.
EXAMPLES: tuple[Example, ...] = (*CORE_EXAMPLES, *APIS_EXAMPLES)

__all__ = ["EXAMPLES", "Example"]
