import random

import pytest

from afas_sf_assets.retrying import RetryPolicy

POLICY = RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=4.0, max_retry_after=60.0, jitter=0.0)


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [
        (1, None, 0.5),  # exponential from the base delay
        (2, None, 1.0),
        (3, None, 2.0),
        (4, None, 4.0),
        (5, None, None),  # attempts used up
        (1, 7.0, 7.0),  # the server's retry_after wins over the backoff
        (1, 0.0, 0.0),
        (2, 60.0, 60.0),  # up to the cap …
        (2, 7200.0, None),  # … beyond it (AFAS maintenance) the error surfaces instead of a 2-hour sleep
        (5, 1.0, None),  # retry_after never adds attempts
    ],
)
def test_delay_table(attempt: int, retry_after: float | None, expected: float | None) -> None:
    assert POLICY.delay(attempt, retry_after) == expected


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(max_attempts=20, base_delay=1.0, max_delay=30.0, jitter=0.0)
    assert policy.delay(15) == 30.0


def test_jitter_spreads_within_bounds() -> None:
    policy = RetryPolicy(base_delay=1.0, jitter=0.25)
    rng = random.Random(3)
    delays = {policy.delay(1, rng=rng) for _ in range(50)}
    assert len(delays) > 10
    assert all(0.75 <= d <= 1.25 for d in delays if d is not None)
