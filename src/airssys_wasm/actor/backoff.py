"""Restart pacing: exponential backoff per child and a sliding-window restart counter.

A child that crashes in a loop must not burn a core restarting; a child that crashed once a day
must not inherit the long delays of a bad hour. Hence: the delay grows exponentially with each
consecutive restart, jitter desynchronises siblings (applied *before* the cap, so the cap is a
hard bound), and the attempt count resets once an incarnation stayed up for ``reset_after``.
Time and randomness are injected so tests are deterministic and never sleep.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from airssys_wasm.errors import ConfigError

__all__ = ["Backoff", "BackoffState", "RestartWindow"]


def _finite(field: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{field} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value):
        raise ConfigError(f"{field} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential restart delay: ``initial * multiplier**attempt``, jittered, capped at ``max``.

    ``jitter`` is a fraction: the delay is scaled by a uniform factor in ``[1-jitter, 1+jitter]``.
    ``reset_after``: an incarnation that ran this long without failing resets the attempt count.
    ``initial=0`` means restart immediately (the delay then stays 0).
    """

    #: Delay before the first restart, in seconds (0: restart at once, as OTP does).
    initial: float = 0.05
    #: Factor between one delay and the next.
    multiplier: float = 2.0
    #: The cap on the delay, in seconds (applied after the jitter).
    max: float = 30.0
    #: Fraction by which each delay is randomly scaled, so restarts of many children spread out.
    jitter: float = 0.1
    #: Seconds an incarnation must run without failing for the sequence to start over.
    reset_after: float = 60.0

    def __post_init__(self) -> None:
        initial = _finite("Backoff.initial", self.initial)
        multiplier = _finite("Backoff.multiplier", self.multiplier)
        cap = _finite("Backoff.max", self.max)
        jitter = _finite("Backoff.jitter", self.jitter)
        reset_after = _finite("Backoff.reset_after", self.reset_after)
        if initial < 0:
            raise ConfigError(f"Backoff.initial must be >= 0 seconds, got {initial}")
        if multiplier < 1:
            raise ConfigError(
                f"Backoff.multiplier must be >= 1 (delays never shrink), got {multiplier}")
        if cap <= 0 or cap < initial:
            raise ConfigError(
                f"Backoff.max must be > 0 and >= Backoff.initial ({initial}), got {cap}")
        if not 0 <= jitter <= 1:
            raise ConfigError(f"Backoff.jitter must be a fraction in [0, 1], got {jitter}")
        if reset_after <= 0:
            raise ConfigError(f"Backoff.reset_after must be > 0 seconds, got {reset_after}")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Delay before restart number ``attempt`` (0-based) of a run of consecutive restarts."""
        if attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {attempt}")
        if self.initial == 0.0:
            # Zero stays zero: without this, 0 * 2.0**1024 overflows to inf and the cap made
            # the 1025th restart of a zero-backoff child wait ``max`` seconds.
            return 0.0
        # Past ~1000 doublings the float overflows; by then the cap applies anyway.
        try:
            base = self.initial * self.multiplier**attempt
        except OverflowError:
            base = math.inf
        if self.jitter:
            base *= 1.0 + self.jitter * (2.0 * rng.random() - 1.0)
        return min(base, self.max)


class BackoffState:
    """One child's position in its backoff sequence."""

    __slots__ = ("backoff", "attempt", "started_at")

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff
        self.attempt = 0
        self.started_at: float | None = None

    def mark_started(self, now: float) -> None:
        self.started_at = now

    def next_delay(self, now: float, rng: random.Random) -> float:
        """Delay before the restart that follows a failure at ``now``; advances the sequence."""
        if self.started_at is not None and now - self.started_at >= self.backoff.reset_after:
            self.attempt = 0
        delay = self.backoff.delay(self.attempt, rng)
        self.attempt += 1
        return delay


class RestartWindow:
    """Counts restarts within the last ``within`` seconds (OTP's intensity/period).

    ``record`` returns False when this restart would exceed ``max_restarts`` in the window: the
    supervisor then gives up and escalates instead of restarting. A restart exactly ``within``
    seconds old is still inside the window, as in OTP (``R >= Now - Period``); unlike OTP the
    clock is not truncated to whole seconds, so sub-second windows mean what they say.
    """

    __slots__ = ("max_restarts", "within", "_clock", "_stamps")

    def __init__(self, max_restarts: int, within: float, clock: Callable[[], float]) -> None:
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int):
            raise TypeError(f"max_restarts must be an int, not {type(max_restarts).__name__}")
        if max_restarts < 0:
            raise ConfigError(
                f"max_restarts must be >= 0 (0 = escalate on the first failure), got {max_restarts}")
        within = _finite("within", within)
        if within <= 0:
            raise ConfigError(f"within must be > 0 seconds, got {within}")
        self.max_restarts = max_restarts
        self.within = within
        self._clock = clock
        self._stamps: deque[float] = deque()

    def _expire(self, now: float) -> None:
        stamps = self._stamps
        while stamps and now - stamps[0] > self.within:
            stamps.popleft()

    def count(self) -> int:
        """Restarts still inside the window."""
        self._expire(self._clock())
        return len(self._stamps)

    def record(self) -> bool:
        """Register a restart now; False if that exceeds the allowed intensity."""
        now = self._clock()
        self._expire(now)
        if len(self._stamps) >= self.max_restarts:
            return False
        self._stamps.append(now)
        return True

    def reset(self) -> None:
        """Forget every restart counted so far (a supervisor that starts afresh)."""
        self._stamps.clear()
