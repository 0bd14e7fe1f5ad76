"""What the ext interfaces hand back to guests, in the fast path's value representation.

Their WIT functions return ``result<T, some-error>`` where every error case carries a string;
the implementations return either the ``T`` value or a :class:`GuestErr`, and
:func:`wit_result` turns that into ``("ok", value)`` / ``("err", (case, message))``.

Blocking work (a file read, a socket wait, a child process, sqlite) never runs on the event
loop for a guest that can suspend: the function checks what it must on the loop (capabilities,
handles) and hands the blocking step to :func:`blocking`, which runs it in the host's I/O
thread pool while only that guest waits (``runtime.suspend.offload``). Synchronous callers get
the step inline, as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

from airssys_wasm._fast.fastcall import HostWait
from airssys_wasm.runtime.suspend import call_suspendable, offload, suspending

__all__ = ["GuestErr", "blocking", "suspending", "wit_result"]


class GuestErr(NamedTuple):
    """An error case for the guest: never raised, returned."""

    case: str
    message: str


def wit_result(fn: Callable[..., Any]) -> Callable[..., tuple[str, Any]]:
    """Wrap an ext function so its return value becomes a WIT ``result`` for the guest."""

    @functools.wraps(fn)
    def as_result(*args: Any) -> Any:
        out = fn(*args)
        if type(out) is GuestErr:
            return ("err", (out.case, out.message))
        if type(out) is HostWait:  # its value was made by a wit_result-wrapped step
            return out
        return ("ok", out)

    return as_result


def blocking(what: str, step: Callable[..., Any], *args: Any) -> Any:
    """Run the blocking ``step(*args)`` (returning a value or a GuestErr) for the calling guest:
    off the loop while it is suspended, inline for a synchronous caller. Inline, the step's own
    value goes back (the ext function's ``wit_result`` converts it once); offloaded, the value
    the HostWait settles with is converted here, since no wrapper sees it later."""
    if not call_suspendable():
        return step(*args)
    return offload(wit_result(step), *args, what=what)
