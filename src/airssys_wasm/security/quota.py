"""Quotas from ``[quota]``: enforced counters, not decoration.

Message rate and network bandwidth are token buckets (refilled continuously from a monotonic
clock, so a burst up to the bucket size is allowed and then the long-run rate holds); storage
is a budget of bytes held, released when data is deleted. The clock is injectable so tests
drive time explicitly. Each component has its own ``QuotaState``; the lock makes it safe
when host functions of one component run on several threads.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from airssys_wasm.security.manifest import Quota

__all__ = ["QuotaOutcome", "QuotaState", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class QuotaOutcome:
    """Result of charging a quota. ``retry_after`` (seconds) is set when waiting would help."""

    ok: bool
    resource: str = ""
    reason: str = ""
    retry_after: float | None = None


QUOTA_OK = QuotaOutcome(True)
_EPSILON = 1e-9


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` per second; ``take(n)`` is all-or-nothing."""

    __slots__ = ("_clock", "_last", "_tokens", "capacity", "rate")

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not (rate > 0 and math.isfinite(rate)) or not (capacity > 0 and math.isfinite(capacity)):
            raise ValueError(
                f"token bucket needs a positive finite rate and capacity, got {rate}, {capacity}"
            )
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._tokens = float(capacity)
        self._clock = clock
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._last
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        # A clock that steps backwards must not mint tokens later: move the mark either way.
        self._last = now

    def take(self, n: float = 1.0) -> float | None:
        """Take ``n`` tokens; None on success, else seconds until ``n`` would be available
        (``inf`` when ``n`` exceeds the capacity and can never succeed)."""
        self._refill()
        # The epsilon absorbs float rounding in the refill so that waiting exactly the
        # returned retry time really is enough (hypothesis found the 1-ulp shortfall).
        if n <= self._tokens + _EPSILON:
            self._tokens = max(0.0, self._tokens - n)
            return None
        if n > self.capacity:
            return math.inf
        return (n - self._tokens) / self.rate


#: One lock for every component's counters: each locked section is a few arithmetic operations
#: (and a bucket's clock read) that never calls out, so sharing it costs no contention worth the
#: name, while a lock per component was one more object per spawn for every GC pass to walk.
_COUNTERS_LOCK = threading.Lock()


class QuotaState:
    """Live counters of one component, built from its manifest's ``[quota]``."""

    def __init__(self, quota: Quota, clock: Callable[[], float] = time.monotonic) -> None:
        self.quota = quota
        self._lock = _COUNTERS_LOCK
        self._messages: TokenBucket | None = None
        #: False when no message rate is set: callers on the per-message path skip charge_message.
        self.meters_messages = quota.messages_per_second is not None
        if quota.messages_per_second is not None:
            burst = quota.message_burst or max(1, math.ceil(quota.messages_per_second))
            self._messages = TokenBucket(quota.messages_per_second, burst, clock)
        self._bandwidth = None
        if quota.network_bytes_per_second is not None:
            rate = quota.network_bytes_per_second
            self._bandwidth = TokenBucket(rate, rate, clock)
        self.storage_used = 0
        self._calls: TokenBucket | None = None
        #: False when no interface call rate is set: the host then checks no call at all.
        self.meters_interface_calls = quota.interface_calls_per_second is not None
        if quota.interface_calls_per_second is not None:
            calls = quota.interface_calls_per_second
            self._calls = TokenBucket(calls, max(1, math.ceil(calls)), clock)

    def _rate(self, bucket: TokenBucket | None, count: int, resource: str,
              what: str, rate: float | None) -> QuotaOutcome:
        if bucket is None:
            return QUOTA_OK
        with self._lock:
            wait = bucket.take(count)
        if wait is None:
            return QUOTA_OK
        return QuotaOutcome(False, resource, f"{what} rate over {rate}/s", _finite(wait))

    def charge_message(self, count: int = 1) -> QuotaOutcome:
        """Take ``count`` messages from the rate quota; the outcome says whether they fit and, if
        not, when to retry (``retry_after``), which the guest gets as ``resource-exhausted``."""
        return self._rate(self._messages, count, "messages", "message",
                          self.quota.messages_per_second)

    def charge_interface_call(self, count: int = 1) -> QuotaOutcome:
        """Take ``count`` calls from ``interface_calls_per_second``; like ``charge_message``
        (the guest's call is refused with QuotaExceeded when they do not fit)."""
        return self._rate(self._calls, count, "interface-calls", "interface call",
                          self.quota.interface_calls_per_second)

    def charge_network(self, nbytes: int) -> QuotaOutcome:
        """Take ``nbytes`` from the bandwidth quota (``network_bytes_per_second``); like
        ``charge_message``."""
        if self._bandwidth is None or nbytes == 0:
            return QUOTA_OK
        with self._lock:
            wait = self._bandwidth.take(nbytes)
        if wait is None:
            return QUOTA_OK
        return QuotaOutcome(
            False, "bandwidth",
            f"network bandwidth over {self.quota.network_bytes_per_second} bytes/s "
            f"({nbytes} bytes requested)",
            _finite(wait),
        )  # fmt: skip

    def charge_storage(self, delta: int) -> QuotaOutcome:
        """Add ``delta`` bytes to the stored total (negative = freed; never below zero)."""
        with self._lock:
            new = self.storage_used + delta
            limit = self.quota.storage_bytes
            if delta > 0 and limit is not None and new > limit:
                return QuotaOutcome(
                    False, "storage",
                    f"storage quota {limit} bytes: {self.storage_used} used, {delta} more requested",
                )  # fmt: skip
            self.storage_used = max(0, new)
        return QUOTA_OK


def _finite(wait: float) -> float | None:
    return None if math.isinf(wait) else wait
