"""Argument defaults that mean "take the value from elsewhere", with a repr that says where.

``None`` is taken (``health=None`` turns probing off, ``config=None`` means no config), so these
arguments need a distinct default. A bare ``object()`` shows in ``help(Host.spawn)`` as
``<object object at 0x…>``; an enum member shows as ``Default.HOST_CONFIG`` and lets mypy
narrow ``if health is Default.HOST_CONFIG``.
"""

from __future__ import annotations

import enum

__all__ = ["Default"]


class Default(enum.Enum):
    """A default meaning "take this from elsewhere", where ``None`` already means something."""

    #: ``Host.spawn(health=...)``: use ``HostConfig.health``.
    HOST_CONFIG = "the host's HostConfig value"
    #: ``Host.upgrade(config=...)``: the new version gets the config the running one has.
    KEEP = "what the running version has"

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"
