"""What the ext interfaces hand back to guests, in the fast path's value representation.

Their WIT functions return ``result<T, some-error>`` where every error case carries a string;
the implementations return either the ``T`` value or a :class:`GuestErr`, and
:func:`wit_result` turns that into ``("ok", value)`` / ``("err", (case, message))``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["GuestErr", "wit_result"]


class GuestErr(NamedTuple):
    """An error case for the guest: never raised, returned."""

    case: str
    message: str


def wit_result(fn: Callable[..., Any]) -> Callable[..., tuple[str, Any]]:
    """Wrap an ext function so its return value becomes a WIT ``result`` for the guest."""

    @functools.wraps(fn)
    def as_result(*args: Any) -> tuple[str, Any]:
        out = fn(*args)
        if type(out) is GuestErr:
            return ("err", (out.case, out.message))
        return ("ok", out)

    return as_result
