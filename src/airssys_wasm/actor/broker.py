"""Topic-based publish/subscribe over actor mailboxes.

``publish`` first offers the message to every subscriber without waiting, and only then waits —
concurrently — for the subscribers whose mailboxes were full. So a slow subscriber delays the
publisher (backpressure, nothing is dropped) but never the delivery to the other subscribers:
it can hold back at most its own mailbox capacity.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airssys_wasm.errors import ConfigError, MailboxFull

if TYPE_CHECKING:
    from airssys_wasm.actor.cell import ActorRef

__all__ = ["MessageBroker"]


def _check_topic(topic: str) -> None:
    if not isinstance(topic, str) or not topic:
        raise ConfigError(f"a topic must be a non-empty string, got {topic!r}")


class MessageBroker:
    """Topics map to ordered subscriber lists; a ref subscribes to a topic at most once."""

    __slots__ = ("_topics",)

    def __init__(self) -> None:
        # Tuples: publish iterates a snapshot, so (un)subscribing while it waits is safe.
        self._topics: dict[str, tuple[ActorRef, ...]] = {}

    def subscribe(self, topic: str, ref: ActorRef) -> None:
        """Deliver what is published on ``topic`` to ``ref``; subscribing twice delivers once.

        Subscriptions are by ``ActorRef``, so they survive the actor's restarts (same mailbox)."""
        _check_topic(topic)
        current = self._topics.get(topic, ())
        if ref not in current:
            self._topics[topic] = current + (ref,)

    def unsubscribe(self, topic: str, ref: ActorRef) -> bool:
        """Remove ``ref`` from ``topic``; False if it was not subscribed."""
        current = self._topics.get(topic, ())
        if ref not in current:
            return False
        remaining = tuple(r for r in current if r is not ref)
        if remaining:
            self._topics[topic] = remaining
        else:
            del self._topics[topic]
        return True

    def unsubscribe_all(self, ref: ActorRef) -> None:
        """Remove ``ref`` from every topic: what stopping an actor does, so no publish reaches a
        mailbox that is gone."""
        for topic in [t for t, refs in self._topics.items() if ref in refs]:
            self.unsubscribe(topic, ref)

    def subscribers(self, topic: str) -> tuple[ActorRef, ...]:
        """The refs subscribed to ``topic`` now, in subscription order (a tuple: safe to iterate
        while subscriptions change, which is why ``publish`` can check every target before
        delivering)."""
        return self._topics.get(topic, ())

    def topics(self) -> list[str]:
        """Topics with at least one subscriber, for monitoring and tests."""
        return list(self._topics)

    async def publish(self, topic: str, message: Any) -> int:
        """Deliver ``message`` to every subscriber of ``topic``; returns how many received it."""
        refs = self._topics.get(topic)
        if not refs:
            _check_topic(topic)
            return 0
        blocked: list[ActorRef] | None = None
        for ref in refs:
            try:
                ref.try_send(message)
            except MailboxFull:
                if blocked is None:
                    blocked = []
                blocked.append(ref)
        if blocked:
            await asyncio.gather(*(ref.send(message) for ref in blocked))
        return len(refs)
