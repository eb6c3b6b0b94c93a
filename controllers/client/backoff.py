"""Jittered exponential backoff (client-go ``wait.Backoff`` with jitter)."""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Delays ``initial * factor**n`` capped at ``cap``, each stretched by up to ``jitter``.

    :meth:`next` returns the next delay and advances; :meth:`reset` starts over.
    """

    def __init__(
        self,
        initial: float = 0.8,
        cap: float = 30.0,
        factor: float = 2.0,
        jitter: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self.initial = initial
        self.cap = cap
        self.factor = factor
        self.jitter = jitter
        self.rng = rng or random.Random()
        self.steps = 0

    def next(self) -> float:
        """The next delay in seconds."""
        base = min(self.initial * self.factor**self.steps, self.cap)
        self.steps += 1
        return base * (1.0 + self.jitter * self.rng.random()) if self.jitter else base

    def reset(self) -> None:
        """Start again from ``initial``."""
        self.steps = 0
