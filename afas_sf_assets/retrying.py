"""Backoff shared by both API clients: how long to wait before the next attempt, or not at all."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    # A server asking for more than this (AFAS maintenance says 7200 s) is not waited for inside a
    # run: the error surfaces and the next scheduled run picks the work up.
    max_retry_after: float = 60.0
    jitter: float = 0.25

    def delay(
        self, attempt: int, retry_after: float | None = None, *, rng: random.Random | None = None
    ) -> float | None:
        """Seconds to sleep after failed attempt number `attempt` (1-based), or None to give up."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        exponential = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, exponential * (1 + spread))
