"""How long an ext host function may block: never past the guest call's own deadline.

A guest waiting on the host (a connect, a recv, a child process) still counts against its call
deadline: the scheduler ends a call that outlives it, but a step already running in the I/O
pool cannot be interrupted, so it must stop by itself. Each blocking step gets the smaller of
the guest's requested timeout and the time left in the call (less a small margin, so the guest
receives the step's own timeout error value), and a fixed ceiling when neither bounds it.
"""

from __future__ import annotations

import time

from airssys_wasm.runtime.host_services import call_deadline

__all__ = ["ANSWER_MARGIN_SECONDS", "UNBOUNDED_STEP_SECONDS", "budget"]

#: Longest single blocking step when neither the guest nor the call sets a bound.
UNBOUNDED_STEP_SECONDS = 60.0
#: Time kept back from the call's deadline: a step that gives up then can still hand the guest
#: its own timeout error value (and clean up, e.g. kill a child) before the deadline ends it.
ANSWER_MARGIN_SECONDS = 0.02


def budget(timeout_ms: int = 0) -> float:
    """Seconds the current blocking step may take (``timeout_ms <= 0``: the guest sets no
    bound). 0.0 means the call's deadline has already passed."""
    bounds = [timeout_ms / 1000.0] if timeout_ms > 0 else []
    deadline = call_deadline()
    if deadline is not None:
        bounds.append(deadline - time.monotonic() - ANSWER_MARGIN_SECONDS)
    return max(0.0, min(bounds, default=UNBOUNDED_STEP_SECONDS))
