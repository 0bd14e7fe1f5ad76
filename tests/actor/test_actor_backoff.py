"""Backoff delays, jitter-before-cap, reset after a stable period, the sliding restart window."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from actor_helpers import FakeClock

from airssys_wasm.actor import Backoff, RestartWindow
from airssys_wasm.actor.backoff import BackoffState
from airssys_wasm.errors import ConfigError


def test_exponential_without_jitter_is_exact_and_capped() -> None:
    backoff = Backoff(initial=0.1, multiplier=2.0, max=1.0, jitter=0.0)
    rng = random.Random(1)
    assert [backoff.delay(n, rng) for n in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert backoff.delay(100_000, rng) == 1.0  # no float overflow


def test_jitter_is_applied_before_the_cap() -> None:
    backoff = Backoff(initial=1.0, multiplier=2.0, max=5.0, jitter=0.5)
    rng = random.Random(3)
    early = [backoff.delay(1, rng) for _ in range(500)]  # base 2.0 -> [1.0, 3.0]
    assert min(early) >= 1.0 and max(early) <= 3.0
    assert max(early) - min(early) > 1.0  # the jitter really spreads the delays
    capped = [backoff.delay(3, rng) for _ in range(500)]  # base 8.0 -> [4.0, 12.0] -> cap 5.0
    assert max(capped) == 5.0
    assert min(capped) >= 4.0 and min(capped) < 5.0  # jitter below the cap survives


def test_state_advances_and_resets_after_stable_period() -> None:
    state = BackoffState(Backoff(initial=1.0, multiplier=3.0, max=100.0, jitter=0.0, reset_after=10.0))
    rng = random.Random(0)
    state.mark_started(0.0)
    assert [state.next_delay(1.0, rng) for _ in range(3)] == [1.0, 3.0, 9.0]
    state.mark_started(20.0)
    assert state.next_delay(25.0, rng) == 27.0  # up 5s < reset_after: keep growing
    state.mark_started(30.0)
    assert state.next_delay(40.0, rng) == 1.0  # up 10s: the sequence starts over


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"initial": -1.0}, "Backoff.initial"),
        ({"multiplier": 0.5}, "Backoff.multiplier"),
        ({"max": 0.0}, "Backoff.max"),
        ({"initial": 2.0, "max": 1.0}, "Backoff.max"),
        ({"jitter": 1.5}, "Backoff.jitter"),
        ({"jitter": -0.1}, "Backoff.jitter"),
        ({"reset_after": 0.0}, "Backoff.reset_after"),
        ({"initial": float("nan")}, "Backoff.initial"),
        ({"max": float("inf")}, "Backoff.max"),
    ],
)
def test_invalid_parameters_name_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError, match=field) as info:
        Backoff(**kwargs)
    assert isinstance(info.value, ValueError)


def test_zero_backoff_stays_zero_past_the_float_overflow() -> None:
    # 2.0**1024 overflows: a crash loop past 1024 restarts used to get the 30 s cap.
    rng = random.Random(1)
    assert [Backoff(initial=0.0).delay(n, rng) for n in (0, 1023, 1024, 10**6)] == [0.0] * 4
    assert Backoff(initial=0.01, jitter=0.0).delay(1024, rng) == 30.0  # non-zero: the cap


def test_restart_window_slides() -> None:
    clock = FakeClock()
    window = RestartWindow(2, 10.0, clock)
    assert window.record() and window.record()
    assert not window.record()  # third within 10 s
    clock.advance(5.0)
    assert not window.record()
    assert window.count() == 2
    clock.advance(5.0)  # the first two are exactly 10 s old: still inside, as in OTP
    assert window.count() == 2
    assert not window.record()
    clock.advance(0.001)  # now older than the period: they expire
    assert window.count() == 0
    assert window.record()


def test_restart_window_validation() -> None:
    with pytest.raises(ConfigError, match="max_restarts"):
        RestartWindow(-1, 1.0, FakeClock())
    with pytest.raises(ConfigError, match="within"):
        RestartWindow(1, 0.0, FakeClock())
    zero = RestartWindow(0, 1.0, FakeClock())
    assert not zero.record()  # intensity 0: the first failure escalates


@settings(max_examples=200, deadline=None)
@given(
    initial=st.floats(min_value=0.0, max_value=10.0),
    multiplier=st.floats(min_value=1.0, max_value=10.0),
    extra=st.floats(min_value=0.001, max_value=100.0),
    jitter=st.floats(min_value=0.0, max_value=1.0),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_delays_stay_within_bounds(initial: float, multiplier: float, extra: float,
                                   jitter: float, seed: int) -> None:
    backoff = Backoff(initial=initial, multiplier=multiplier, max=initial + extra, jitter=jitter)
    rng = random.Random(seed)
    plain = Backoff(initial=initial, multiplier=multiplier, max=initial + extra, jitter=0.0)
    previous = 0.0
    for attempt in range(40):
        delay = backoff.delay(attempt, rng)
        assert 0.0 <= delay <= backoff.max
        expected = plain.delay(attempt, rng)
        assert expected >= previous  # without jitter the sequence never shrinks
        assert abs(delay - expected) <= jitter * expected + 1e-9 or delay == backoff.max
        previous = expected
