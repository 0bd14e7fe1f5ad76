"""The C latency histogram against a bisect reference on generated inputs, and its batch timer."""

from __future__ import annotations

import bisect
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airssys_wasm._fast._metrics import DEFAULT_BOUNDS, LatencyHistogram

bounds_strategy = st.lists(st.floats(min_value=1e-9, max_value=1e3), min_size=1, max_size=64,
                           unique=True).map(sorted)
batches = st.lists(st.tuples(st.floats(min_value=0, max_value=1e4), st.integers(1, 10_000)),
                   max_size=50)


def reference(bounds: list[float], observed: list[tuple[float, int]]) -> list[int]:
    """Cumulative counts with Prometheus ``le`` semantics: a mean equal to a bound is in it."""
    counts = [0] * (len(bounds) + 1)
    for seconds, n in observed:
        counts[bisect.bisect_left(bounds, seconds / n)] += n
    out, total = [], 0
    for count in counts:
        total += count
        out.append(total)
    return out


@given(bounds_strategy, batches)
def test_buckets_sum_and_count_match_the_reference(bounds: list[float],
                                                   observed: list[tuple[float, int]]) -> None:
    hist = LatencyHistogram(bounds)
    for seconds, n in observed:
        hist.observe(seconds, n)
    assert hist.bounds == tuple(bounds)
    assert hist.buckets() == reference(bounds, observed)
    assert hist.count == sum(n for _, n in observed)
    assert math.isclose(hist.sum, math.fsum(s for s, _ in observed), rel_tol=1e-9, abs_tol=1e-12)


@given(batches, batches)
def test_default_histograms_share_bounds_but_not_counts(
        first: list[tuple[float, int]], second: list[tuple[float, int]]) -> None:
    # The default bounds are one C array shared by every histogram; an explicit copy of them
    # takes the validating path with an allocation of its own. Both must bucket alike, and
    # two default histograms must not see each other's counts.
    shared, other, copied = LatencyHistogram(), LatencyHistogram(), LatencyHistogram(
        list(DEFAULT_BOUNDS))
    for seconds, n in first:
        shared.observe(seconds, n)
        copied.observe(seconds, n)
    for seconds, n in second:
        other.observe(seconds, n)
    assert shared.bounds == other.bounds == copied.bounds == DEFAULT_BOUNDS
    assert shared.buckets() == copied.buckets() == reference(list(DEFAULT_BOUNDS), first)
    assert other.buckets() == reference(list(DEFAULT_BOUNDS), second)
    assert shared.count == sum(n for _, n in first) and other.count == sum(n for _, n in second)


def test_a_timed_batch_counts_every_message_once() -> None:
    hist = LatencyHistogram()
    assert hist.bounds == DEFAULT_BOUNDS
    hist.start()
    hist.stop(4)
    assert hist.count == 4 and hist.buckets()[-1] == 4
    assert 0 <= hist.sum < 1.0
    hist.stop(3)  # no start(): nothing recorded (a failed batch never reaches stop)
    hist.start()
    hist.stop(0)  # an empty batch is not recorded, and consumes the start
    hist.stop(2)
    assert hist.count == 4


@pytest.mark.parametrize("bounds, match", [
    ((), "1 to 64"),
    (tuple(float(i) for i in range(1, 66)), "1 to 64"),
    ((1.0, 1.0), "strictly increasing"),
    ((0.0, 1.0), "positive"),
    ((1.0, float("inf")), "finite"),
    ((float("nan"),), "finite"),
])
def test_bad_bounds_are_refused(bounds: tuple[float, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LatencyHistogram(bounds)


def test_bad_observations_are_refused() -> None:
    hist = LatencyHistogram((1.0,))
    with pytest.raises(ValueError, match="non-negative"):
        hist.observe(-1.0)
    with pytest.raises(ValueError, match="non-negative"):
        hist.observe(float("nan"))
    with pytest.raises(ValueError, match="n must be >= 1"):
        hist.observe(1.0, 0)
    with pytest.raises(TypeError):
        LatencyHistogram([object()])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        LatencyHistogram(["x"])  # type: ignore[list-item]
    assert hist.count == 0 and hist.buckets() == [0, 0]
