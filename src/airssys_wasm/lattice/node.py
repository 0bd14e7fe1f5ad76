"""``aw.Lattice``: make a ``Host`` one node of a lattice of hosts on NATS JetStream.

Names work on every node; where a component runs is recorded in JetStream KV, and the NATS
servers are the only thing the nodes share:

- **specs** (KV): what any node needs to start a component (:mod:`.spec`); the wasm itself is
  in the **sources** object store under its sha256, fetched once per node;
- **placement** (KV): which node runs each component, in which state; every node watches it;
  a claim is a compare-and-swap on the entry's revision, so exactly one node wins;
- **nodes** (KV): one entry per live node, rewritten every ``heartbeat`` seconds; a node silent
  for ``failover_after`` is lost, and the survivors claim its components;
- **messages** (one JetStream stream, one subject per component): a frame for a component on
  another node goes into a per-component outbox — a bounded :class:`~airssys_wasm.actor.Mailbox`
  the router fills like any other, so a guest's ``send-message`` costs the same — and is
  published packed with the frames sent to that component since the last publish. The node
  running the component pulls the packs through a durable consumer, delivers each frame as a
  :class:`~airssys_wasm.host.remote.Delivery`, and acknowledges a batch once every frame in it
  was handled or dead-lettered. The delivery contract is docs/guides/lattice.md.

Frames between components on the same node never touch NATS: they stay on the router's fast
path. Requests and control calls (health, stop, publish, subscribe) are core NATS
request/reply to the owning node.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airssys_wasm.actor import (
    ActorState,
    DeadLetterReason,
    Event,
    LifecycleEvent,
    Mailbox,
    Supervisor,
)
from airssys_wasm.errors import (
    ActorStateError,
    AirssysError,
    ComponentNotFound,
    ConfigError,
    LatticeError,
    LatticeUnavailable,
    MailboxFull,
    SupervisorEscalation,
)
from airssys_wasm.host.registry import check_name
from airssys_wasm.host.remote import Delivery
from airssys_wasm.host.requests import RequestEnvelope
from airssys_wasm.lattice.placement import NodeInfo, as_placement, candidates
from airssys_wasm.lattice.spec import ComponentSpec
from airssys_wasm.lattice.wire import (
    PACK_OVERHEAD,
    Subjects,
    dumps,
    error_from_wire,
    error_to_wire,
    loads,
    pack,
    token,
    unpack,
)
from airssys_wasm.runtime.loader import read_source
from airssys_wasm.types import CallerInfo, ComponentId, ComponentMetadata, HealthStatus

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext
    from nats.js.kv import KeyValue
    from nats.js.object_store import ObjectStore

    from airssys_wasm.host.host import ComponentRef, Host

__all__ = ["Lattice", "LatticeStats"]

logger = logging.getLogger("airssys_wasm.lattice")

#: How many sessions of other nodes a component's dedup table remembers (oldest dropped).
_ORIGINS_KEPT = 256
#: Pause between two tries when NATS does not answer a publish (doubles up to a second).
_RETRY = 0.05


def _nats() -> Any:
    try:
        import nats
    except ImportError:  # pragma: no cover - the [lattice] extra is in [test]
        raise ConfigError("the lattice needs the NATS client: pip install 'airssys-wasm[lattice]'"
                          ) from None
    return nats


@dataclass(frozen=True, slots=True)
class LatticeStats:
    """Counters of one node's bridge (``Lattice.stats()``)."""

    #: Frames this node published to components on other nodes, and in how many packs.
    frames_sent: int
    packs_sent: int
    #: Publishes NATS did not acknowledge at once and that were retried (same message id).
    publish_retries: int
    #: Frames delivered here from the lattice, and redeliveries dropped as already handled.
    frames_received: int
    deduplicated: int
    #: Packs that did not decode (acknowledged and logged, never half delivered).
    packs_rejected: int
    #: Components this node took over from a lost (or leaving) node.
    failovers: int
    #: Frames waiting in outboxes for their publish.
    outbound_queued: int


class _Member:
    __slots__ = ("name", "labels", "boot", "seen", "alive", "revision")

    def __init__(self, name: str, labels: Mapping[str, str], boot: str, seen: float,
                 revision: int) -> None:
        self.name = name
        self.labels = dict(labels)
        self.boot = boot
        self.seen = seen
        self.alive = True
        self.revision = revision


class _Placed:
    """One entry of the placement bucket, decoded."""

    __slots__ = ("node", "epoch", "state", "error", "cid", "meta", "max_message", "restarts",
                 "revision")

    def __init__(self, data: Mapping[str, Any], revision: int) -> None:
        self.node: str | None = data.get("node")
        self.epoch: int = int(data.get("epoch") or 0)
        self.state: str = data.get("state") or "starting"
        self.error: list[str] | None = data.get("error")
        cid = data.get("cid")
        self.cid = ComponentId(cid[1], cid[0], cid[2]) if cid else None
        meta = data.get("meta")
        self.meta = (ComponentMetadata(meta["name"], meta.get("version", ""),
                                       meta.get("description", ""),
                                       tuple(meta.get("supported_operations", ())))
                     if meta else None)
        self.max_message: int | None = data.get("max_message")
        self.restarts: list[float] = list(data.get("restarts") or [])
        self.revision = revision

    def to_wire(self) -> dict[str, Any]:
        cid = self.cid
        meta = self.meta
        return {
            "node": self.node, "epoch": self.epoch, "state": self.state, "error": self.error,
            "cid": [cid.namespace, cid.name, cid.version] if cid else None,
            "meta": ({"name": meta.name, "version": meta.version,
                      "description": meta.description,
                      "supported_operations": list(meta.supported_operations)}
                     if meta else None),
            "max_message": self.max_message, "restarts": self.restarts,
        }


class _Outbox:
    """Frames for one component on another node, waiting for their publish."""

    __slots__ = ("name", "subject", "token", "mailbox", "task", "done")

    def __init__(self, name: str, subject: str, mailbox: Mailbox) -> None:
        self.name = name
        self.subject = subject
        self.token = token(name)
        self.mailbox = mailbox
        self.task: asyncio.Task[None] | None = None
        #: Items taken out of ``mailbox`` and finished with (frames: acknowledged by
        #: JetStream); compared with ``mailbox.accepted`` to know what is still in flight.
        self.done = 0


class _Batch:
    """The frames of one fetch, settled one by one; the batch is acknowledged when all are."""

    __slots__ = ("outstanding", "event")

    def __init__(self) -> None:
        self.outstanding = 0
        self.event = asyncio.Event()

    def settle(self, _token: object) -> None:
        self.outstanding -= 1
        if self.outstanding <= 0:
            self.event.set()


class _Inbox:
    """The consumer of one component running here."""

    __slots__ = ("name", "task", "fetching", "handled")

    def __init__(self, name: str) -> None:
        self.name = name
        self.task: asyncio.Task[None] | None = None
        self.fetching = True
        #: origin session -> highest seq handled (the dedup key is (origin, seq)).
        self.handled: dict[str, int] = {}


class Lattice:
    """A node of a lattice: pass it to ``aw.Host(lattice=aw.Lattice(url, node="n1"))``.

    ``url``: the NATS servers (``nats://127.0.0.1:4222``, comma-separated or a list);
    ``node``: this node's name, unique in the lattice; ``labels``: what placements match
    (``{"zone": "a"}``); ``name``: the lattice's name, so several share one NATS;
    ``token`` / ``nkey_seed``: the NATS credentials (never logged); ``heartbeat`` and
    ``failover_after``: seconds between this node's heartbeats and of silence after which a
    node is lost and its components move; ``replicas``: JetStream replicas of the stream and
    buckets (3 on a 3-server cluster); ``pack_frames``: most frames per published pack;
    ``outbound_capacity``: frames buffered per remote component before ``send`` waits and
    ``try_send`` raises MailboxFull; ``fetch_batch``: packs a consumer takes per fetch.
    """

    def __init__(self, url: str | Sequence[str], *, node: str,
                 labels: Mapping[str, str] | None = None, name: str = "default",
                 token: str | None = None, nkey_seed: str | None = None,
                 heartbeat: float = 0.25, failover_after: float = 1.0, replicas: int = 1,
                 pack_frames: int = 256, outbound_capacity: int = 65536, fetch_batch: int = 16,
                 connect_timeout: float = 2.0, spawn_timeout: float = 30.0) -> None:
        servers = [u.strip() for u in (url.split(",") if isinstance(url, str) else url)]
        if not servers or not all(servers):
            raise ConfigError(f"lattice url {url!r} names no NATS server; pass e.g. "
                              "'nats://127.0.0.1:4222' (airssys-wasm lattice up prints one)")
        if not isinstance(node, str) or not node or node != node.strip():
            raise ConfigError(f"a lattice node needs a name (node='n1'), got {node!r}")
        if not heartbeat > 0 or not failover_after > heartbeat:
            raise ConfigError(f"failover_after ({failover_after}) must be longer than heartbeat "
                              f"({heartbeat}), both > 0 seconds")
        for label, value in (labels or {}).items():
            if not isinstance(label, str) or not isinstance(value, str) or not label:
                raise ConfigError(f"node labels are non-empty strings, got {label!r}={value!r}")
        if not 1 <= pack_frames <= 65536 or outbound_capacity < 1 or fetch_batch < 1 \
                or replicas not in (1, 3, 5):
            raise ConfigError("pack_frames is 1..65536, outbound_capacity and fetch_batch >= 1, "
                              "replicas 1, 3 or 5")
        self.servers = servers
        self.node = node
        self.labels = dict(labels or {})
        self.name = name
        self.heartbeat = heartbeat
        self.failover_after = failover_after
        self.replicas = replicas
        self.pack_frames = pack_frames
        self.outbound_capacity = outbound_capacity
        self.fetch_batch = fetch_batch
        self.connect_timeout = connect_timeout
        self.spawn_timeout = spawn_timeout
        self._token = token
        self._nkey_seed = nkey_seed
        self.subjects = Subjects(name)
        #: This node's session: the dedup key's ``origin`` for what it sends.
        self.boot = secrets.token_hex(6)
        self._origin = f"{node}.{self.boot}"
        self._host: Host | None = None
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._kv: dict[str, KeyValue] = {}
        self._sources_store: ObjectStore | None = None
        self._members: dict[str, _Member] = {}
        self._placed: dict[str, _Placed] = {}
        self._outboxes: dict[str, _Outbox] = {}
        self._inboxes: dict[str, _Inbox] = {}
        #: Components this node runs for the lattice, and the ones being started here now.
        self._local: set[str] = set()
        self._starting: set[str] = set()
        #: Components this node stops on purpose (stop, eviction): no lattice-wide cleanup
        #: from the lifecycle listener for them.
        self._quiet: set[str] = set()
        self._sources: dict[str, bytes] = {}
        self._waiters: dict[str, asyncio.Future[_Placed]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._background: list[asyncio.Task[None]] = []
        self._cids: dict[str, ComponentId] = {}
        #: Frames this session sent to each component: the ``seq`` of the dedup key. Kept
        #: across outboxes (a component that moves away, back and away again), so a receiver
        #: never takes a new frame for a redelivered one.
        self._seqs: dict[str, int] = {}
        #: Notified after every publish: ``_published_up_to`` waits on it.
        self._progress = asyncio.Condition()
        self._max_payload = 1024 * 1024
        self._leaving = False
        self._last_error: Exception | None = None
        self._frames_sent = self._packs_sent = self._retries = 0
        self._received = self._dedup = self._rejected = self._failovers = 0

    @property
    def url(self) -> str:
        """The NATS servers without their credentials (``nats://user:secret@host:4222`` ->
        ``nats://host:4222``), comma-separated: what log lines and messages show."""
        def bare(url: str) -> str:
            scheme, sep, rest = url.partition("://")
            return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url.rpartition("@")[2]

        return ",".join(bare(url) for url in self.servers)

    def __repr__(self) -> str:
        return f"<Lattice {self.name!r} node {self.node!r} {self.url}>"

    # -- joining and leaving ---------------------------------------------------------------------
    async def attach(self, host: Host) -> None:
        """Connect, create the stream and buckets if missing, join under ``node`` (refused if a
        live node has that name), start this node's share of the lattice."""
        if self._host is not None:
            raise ConfigError(f"{self!r} is already attached to a host; one Lattice per Host")
        self._host = host
        nats = _nats()
        nc = self._nc = nats.NATS()
        try:
            # Reconnect forever once connected; but the first connection is bounded (nats-py
            # would otherwise keep retrying a server that is not there).
            await asyncio.wait_for(nc.connect(
                servers=self.servers, name=f"airssys-wasm {self.node}", token=self._token,
                nkeys_seed_str=self._nkey_seed, connect_timeout=self.connect_timeout,
                allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=0.25,
                reconnected_cb=self._reconnected, error_cb=self._nats_error),
                self.connect_timeout * len(self.servers) + 0.5)
        except (Exception, asyncio.TimeoutError) as exc:
            await nc.close()
            cause = self._last_error or exc  # what the server said beats "timed out"
            raise LatticeUnavailable(
                f"cannot reach NATS at {self.url} "
                f"({type(cause).__name__}{f': {cause}' if str(cause) else ''}); "
                "start a server (airssys-wasm lattice up) or fix the url/credentials") from None
        self._max_payload = self._nc.max_payload
        self._js = self._nc.jetstream()
        try:
            await self._settling(self._ensure_storage)
        except Exception as exc:
            await self._nc.close()
            raise LatticeUnavailable(f"NATS at {self.url} has no usable "
                                     f"JetStream ({exc}); start nats-server with -js") from None
        try:
            await self._settling(self._join)
            host.add_listener(self._on_event)
            nc = self._nc
            await nc.subscribe(self.subjects.node(self.node, "req"), cb=self._on_request)
            await nc.subscribe(self.subjects.node(self.node, "ctl"), cb=self._on_control)
            await self._watch(self.subjects.nodes, self._on_node_entry)
            await self._watch(self.subjects.placements, self._on_placement)
            loop = asyncio.get_running_loop()
            self._background.append(loop.create_task(self._heartbeats()))
            self._background.append(loop.create_task(self._monitor()))
            for name, placed in list(self._placed.items()):  # mine from an earlier life
                if placed.node == self.node or placed.state == "orphaned":
                    self._task(self._claim(name, placed, handover=placed.node != self.node))
        except BaseException:
            await self._nc.close()
            raise

    async def _settling(self, step: Any, patience: float = 15.0) -> None:
        """Run ``step``, again while JetStream is still settling: right after a stream or
        bucket of several replicas is created (or a server restarted) its first requests can
        find no leader yet (no responders, 503), or no peer to place it on yet."""
        import nats.errors
        from nats.js.errors import (
            BadRequestError,
            NoStreamResponseError,
            ServiceUnavailableError,
        )

        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        while True:
            try:
                return await step()
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError,
                    NoStreamResponseError, ServiceUnavailableError, BadRequestError) as exc:
                # 10005: "no suitable peers for placement, peer offline" (a server the meta
                # leader does not count yet); any other bad request is an answer.
                if isinstance(exc, BadRequestError) and exc.err_code != 10005:
                    raise
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def _ensure_storage(self) -> None:
        from nats.js.api import KeyValueConfig, StorageType, StreamConfig

        js = self._js
        assert js is not None
        s = self.subjects
        try:
            await js.stream_info(s.stream)
        except Exception:
            await js.add_stream(StreamConfig(
                name=s.stream, subjects=[f"{s.prefix}.msg.*"], num_replicas=self.replicas,
                storage=StorageType.FILE, duplicate_window=120.0,
                max_msg_size=self._max_payload))
        for bucket, history in ((s.nodes, 1), (s.placements, 1), (s.specs, 1), (s.handled, 1)):
            try:
                self._kv[bucket] = await js.key_value(bucket)
            except Exception:
                self._kv[bucket] = await js.create_key_value(KeyValueConfig(
                    bucket=bucket, history=history, replicas=self.replicas,
                    storage=StorageType.FILE))
        try:
            self._sources_store = await js.object_store(s.sources)
        except Exception:
            self._sources_store = await js.create_object_store(s.sources,
                                                               replicas=self.replicas)

    def _node_value(self) -> bytes:
        return dumps({"name": self.node, "labels": self.labels, "boot": self.boot,
                      "components": len(self._local)})

    async def _join(self) -> None:
        from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

        kv = self._kv[self.subjects.nodes]
        key = token(self.node)
        try:
            await kv.create(key, self._node_value())
            return
        except KeyWrongLastSequenceError:
            pass
        # The name is taken: by a live node (refused) or by this node's earlier life, killed
        # before the others noticed (its entry stops changing; take it over).
        entry = await kv.get(key)
        await asyncio.sleep(self.failover_after + self.heartbeat)
        try:
            again = await kv.get(key)
        except KeyNotFoundError:
            await kv.create(key, self._node_value())
            return
        if again.revision != entry.revision:
            raise LatticeError(f"a node named {self.node!r} is already in lattice {self.name!r} "
                               "(it heartbeats); give this node another name")
        await kv.update(key, self._node_value(), last=again.revision)

    async def detach(self, *, drain: bool) -> None:
        """Stop taking new frames from the lattice (``Host.close`` calls it before stopping its
        components; the frames already delivered are handled and acknowledged)."""
        self._leaving = True
        for inbox in self._inboxes.values():
            inbox.fetching = False
        # A component being started here right now (a claim that won): let it finish starting,
        # so it is stopped and handed over like the others. Claims not that far see _leaving.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while self._starting and loop.time() < deadline:
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Leave the lattice after the host stopped its components: acknowledge what they
        handled, publish what is queued for other nodes (up to a few seconds), hand this node's
        components over to the survivors (``orphaned``: the first to claim one starts it) and
        remove this node's entry."""
        if self._nc is None or self._nc.is_closed:
            return
        self._leaving = True
        try:
            inboxes = [i.task for i in self._inboxes.values() if i.task is not None]
            if inboxes:
                await asyncio.wait(inboxes, timeout=5.0)
            try:
                await self.flush(timeout=5.0)
            except LatticeUnavailable as exc:
                self._dead_letter_outboxes(exc)
            for name in list(self._local):
                await self._orphan(name)
            for task in self._background:
                task.cancel()
            try:
                await self._kv[self.subjects.nodes].delete(token(self.node))
            except Exception as exc:
                logger.warning("node %s could not remove its entry: %s", self.node, exc)
        finally:
            consumers = [i.task for i in self._inboxes.values() if i.task is not None]
            for task in list(self._tasks) + self._background + consumers:
                task.cancel()
            # flush, not drain: draining waits up to 30 s on the pull subscriptions' fetches,
            # and everything this node owed the lattice was acknowledged above.
            try:
                await self._nc.flush(timeout=2)
            except Exception as exc:
                logger.info("node %s left without a final flush: %s", self.node, exc)
            await self._nc.close()

    async def _orphan(self, name: str) -> None:
        placed = self._placed.get(name)
        self._local.discard(name)
        if placed is None or placed.node != self.node or placed.state == "failed":
            return
        await self._orphan_entry(name, placed)

    async def _orphan_entry(self, name: str, placed: _Placed) -> None:
        placed.node, placed.state = None, "orphaned"
        try:
            await self._kv[self.subjects.placements].update(token(name), dumps(placed.to_wire()),
                                                            last=placed.revision)
        except Exception as exc:  # changed meanwhile: whoever changed it owns it
            logger.info("handing %s over: %s", name, exc)

    def _dead_letter_outboxes(self, error: BaseException) -> None:
        """Frames that could not be published before this node left: dead letters, never lost
        silently."""
        host = self._host
        assert host is not None and host.system is not None
        for outbox in self._outboxes.values():
            for item in outbox.mailbox.take_all():
                host.system.dead_letter(None, item, DeadLetterReason.FAILED, error,
                                        recipient=outbox.name)

    # -- what the host asks ----------------------------------------------------------------------
    def owns(self, name: str) -> bool:
        """True when ``name`` is a component of the lattice that is placed on another node."""
        placed = self._placed.get(name)
        return placed is not None and name not in self._local and placed.node != self.node

    def where(self, name: str) -> str | None:
        """The node ``name`` is placed on (None while it moves, or unknown)."""
        placed = self._placed.get(name)
        return placed.node if placed is not None and placed.state != "orphaned" else None

    def _elsewhere(self) -> Iterator[tuple[str, _Placed]]:
        """The components of the lattice this node does not run (not failed): placed on other
        nodes, or claimed by this one and still starting (its source is fetched and compiled
        before the host registers it). What this node adds to its own ones in ``names`` and
        ``list-components``, which skip what the host has registered meanwhile."""
        return ((n, p) for n, p in self._placed.items()
                if n not in self._local and p.state != "failed"
                and (p.node != self.node or n in self._starting))

    def names(self) -> list[str]:
        """Components placed on other nodes, or starting on this one (not failed)."""
        return [n for n, _ in self._elsewhere()]

    def list_components(self) -> Sequence[ComponentId]:
        """``list-components`` beyond this node: the ids of the components it does not run."""
        return [p.cid or ComponentId(n) for n, p in self._elsewhere()]

    def component_metadata(self, component: ComponentId) -> ComponentMetadata | None:
        """``get-component-metadata`` for a component placed on another node."""
        placed = self._placed.get(component.name)
        if placed is None or placed.cid is None:
            return None
        return placed.meta if component.matches(placed.cid) else None

    def component_id(self, name: str) -> ComponentId:
        """The component-id of ``name`` as its node recorded it."""
        placed = self._placed.get(name)
        if placed is None:
            raise ComponentNotFound(f"no component named {name!r} in lattice {self.name!r}")
        return placed.cid or ComponentId(name)

    def state(self, name: str) -> tuple[ActorState, BaseException | None]:
        """``name``'s lifecycle state as its placement records it, and its failure."""
        placed = self._placed.get(name)
        if placed is None:
            return ActorState.STOPPED, None
        if placed.state == "failed":
            return ActorState.FAILED, error_from_wire(placed.error or ["other", "failed"],
                                                      placed.node or "?")
        return (ActorState.RUNNING if placed.state == "running" else ActorState.STARTING), None

    def nodes(self) -> list[NodeInfo]:
        """The nodes this node sees (itself included), with how many components each runs."""
        counts: dict[str, int] = {}
        for placed in self._placed.values():
            if placed.node is not None and placed.state != "failed":
                counts[placed.node] = counts.get(placed.node, 0) + 1
        return [NodeInfo(m.name, dict(m.labels), counts.get(m.name, 0), m.alive)
                for m in sorted(self._members.values(), key=lambda m: m.name)]

    def stats(self) -> LatticeStats:
        """This node's bridge counters."""
        return LatticeStats(self._frames_sent, self._packs_sent, self._retries, self._received,
                            self._dedup, self._rejected, self._failovers,
                            sum(len(o.mailbox) for o in self._outboxes.values()))

    # -- spawning --------------------------------------------------------------------------------
    async def spawn(self, name: str, source: Any, **options: Any) -> ComponentRef:
        """``Host.spawn`` on this node: record the spec lattice-wide, pick the node, start it
        there. ConfigError if the name is taken anywhere in the lattice."""
        from nats.js.errors import KeyWrongLastSequenceError

        host = self._host
        assert host is not None
        check_name(name)
        if name in host.registry or name in self._placed or name in self._starting:
            raise ConfigError(f"the name {name!r} is already taken in lattice {self.name!r}; "
                              "stop that component first or pick another name")
        placement = options.pop("placement")
        rule = as_placement(placement)
        supervisor = options.pop("supervisor")
        sup_name, max_restarts, within = self._intensity(supervisor)
        data, _ = read_source(source, host.engine.config.max_source_bytes)
        digest = hashlib.sha256(data).hexdigest()
        spec = ComponentSpec.of(name, digest, supervisor=sup_name, max_restarts=max_restarts,
                                within=within, placement=rule, **options)
        if placement is None:
            node = self.node
        else:
            node = candidates(rule, self.nodes(), name)[0]
        # Both idempotent, so asked again while JetStream is still settling (after a server
        # restart its first requests can find nobody to answer); the placement's create below
        # is a compare-and-swap and is asked once.
        await self._settling(lambda: self._put_source(digest, data))
        key = token(name)
        specs = self._kv[self.subjects.specs]
        await self._settling(lambda: specs.put(key, spec.to_bytes()))
        placed = _Placed({"node": node, "epoch": 1, "state": "starting"}, 0)
        here = node == self.node
        if here:
            self._starting.add(name)
        else:
            self._waiters[name] = asyncio.get_running_loop().create_future()
        try:
            try:
                placed.revision = await self._kv[self.subjects.placements].create(
                    key, dumps(placed.to_wire()))
            except KeyWrongLastSequenceError:
                raise ConfigError(f"the name {name!r} is already taken in lattice {self.name!r} "
                                  "(spawned on another node just now); pick another name"
                                  ) from None
            self._placed[name] = placed
            if here:
                return await self._start_here(name, spec, placed, raise_errors=True)
            try:
                done = await asyncio.wait_for(self._waiters[name], self.spawn_timeout)
            except asyncio.TimeoutError:
                raise LatticeError(f"node {node!r} did not start {name!r} within "
                                   f"{self.spawn_timeout:.0f} s; see its log") from None
            if done.state == "failed":
                await self._forget_everywhere(name)
                raise error_from_wire(done.error or ["other", "failed"], node)
            return host.ref(name)
        finally:
            self._starting.discard(name)
            self._waiters.pop(name, None)

    def _intensity(self, supervisor: Supervisor | str | None) -> tuple[str | None, int, float]:
        host = self._host
        assert host is not None
        if supervisor is None:
            return None, host.config.max_restarts, host.config.within
        found = supervisor if isinstance(supervisor, Supervisor) else None
        if isinstance(supervisor, str):
            found = host.find_supervisor(supervisor)
        assert found is not None
        return found.name, found.max_restarts, found.within

    async def _put_source(self, digest: str, data: bytes) -> None:
        store = self._sources_store
        assert store is not None
        if digest in self._sources:
            return
        try:
            await store.get_info(digest)
        except Exception:
            await store.put(digest, data)
        self._sources[digest] = data

    async def _source(self, digest: str) -> bytes:
        data = self._sources.get(digest)
        if data is None:
            store = self._sources_store
            assert store is not None
            result = await store.get(digest)
            data = result.data or b""
            if hashlib.sha256(data).hexdigest() != digest:
                raise LatticeError(f"the source {digest[:12]}... in the object store does not "
                                   "match its digest; spawn the component again")
            self._sources[digest] = data
        return data

    async def _start_here(self, name: str, spec: ComponentSpec, placed: _Placed, *,
                          raise_errors: bool = False) -> ComponentRef:
        """Start ``name`` on this node under the placement entry ``placed`` (already claimed)
        and publish that it runs; on failure record it failed (and raise if asked)."""
        host = self._host
        assert host is not None
        self._starting.add(name)
        try:
            # Fetched and compiled (off the loop) while local sends still go to the stream:
            # between dropping the outbox and the spawn's route there is no route at all.
            source = await self._source(spec.digest)
            await host.prepare(source, name=name)
            supervisor = await self._supervisor(spec)
            self._drop_outbox(name)
            ref = await host.spawn_local(name, source, supervisor=supervisor,
                                         **spec.spawn_options())
            self._local.add(name)
            await self._retrying(lambda: self._open_inbox(name), f"open the consumer of {name}")
            assert host.system is not None
            for topic in spec.topics:
                host.system.broker.subscribe(topic, ref.actor)
            entry = host.registry.get(name)
            placed.state, placed.error = "running", None
            placed.cid, placed.meta = entry.component_id, entry.metadata
            placed.max_message = entry.limits.max_message_bytes
            from nats.js.errors import KeyWrongLastSequenceError

            # A swap that fails means another node claimed it meanwhile: the watcher then
            # sees the new owner and stops this copy.
            await self._retrying(lambda: self._write_placement(name, placed),
                                 f"record that {name} runs here", (KeyWrongLastSequenceError,))
            return ref
        except BaseException as exc:
            if self._leaving and not raise_errors:  # this node is closing: let another take it
                self._local.discard(name)
                await self._orphan_entry(name, placed)
                raise
            if name not in self._local:
                placed.state = "failed"
                placed.error = error_to_wire(exc) if isinstance(exc, Exception) else None
                try:
                    await self._write_placement(name, placed)
                except Exception:
                    pass
            if raise_errors:
                if name not in self._local:
                    await self._forget_everywhere(name)
                raise
            logger.error("node %s could not start %s: %s", self.node, name, exc)
            raise
        finally:
            self._starting.discard(name)

    async def _supervisor(self, spec: ComponentSpec) -> Supervisor | None:
        host = self._host
        assert host is not None
        if spec.supervisor is None:
            return None
        try:
            return host.find_supervisor(spec.supervisor)
        except ComponentNotFound:
            return await host.supervisor(spec.supervisor, max_restarts=spec.max_restarts,
                                         within=spec.within)

    async def _write_placement(self, name: str, placed: _Placed) -> None:
        placed.revision = await self._kv[self.subjects.placements].update(
            token(name), dumps(placed.to_wire()), last=placed.revision)
        self._placed[name] = placed

    # -- frames in: one durable consumer per component running here ------------------------------
    async def _open_inbox(self, name: str) -> None:
        """Take over ``name``'s consumer (see ``_consumer``) with the dedup table its last
        owner recorded, and start consuming."""
        from nats.js.errors import KeyNotFoundError

        inbox = _Inbox(name)
        try:
            entry = await self._kv[self.subjects.handled].get(token(name))
            recorded = loads(entry.value or b"", "dedup table") if entry.value else {}
            if isinstance(recorded, dict):
                inbox.handled = {str(k): int(v) for k, v in recorded.items()}
        except KeyNotFoundError:
            pass
        sub = await self._consumer(name)
        self._inboxes[name] = inbox
        inbox.task = asyncio.get_running_loop().create_task(self._consume(inbox, sub))

    async def _consumer(self, name: str) -> Any:
        """``name``'s durable consumer, recreated at its acknowledged floor: what was taken but
        not acknowledged (by the last owner, or by a fetch whose reply was lost) comes again
        at once, in stream order, and the dedup table drops what was handled already."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import NotFoundError

        js = self._js
        assert js is not None
        s = self.subjects
        durable = f"c-{token(name)}"
        start: int | None = None
        try:
            info = await js.consumer_info(s.stream, durable)
            floor = info.ack_floor.stream_seq if info.ack_floor else 0
            start = floor + 1 if floor else info.config.opt_start_seq
            await js.delete_consumer(s.stream, durable)
        except NotFoundError:
            pass
        config = ConsumerConfig(
            durable_name=durable, filter_subject=s.inbox(name), ack_policy=AckPolicy.ALL,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if start else DeliverPolicy.ALL,
            opt_start_seq=start, ack_wait=60.0, max_ack_pending=self.fetch_batch * 4,
            num_replicas=self.replicas)
        await js.add_consumer(s.stream, config)
        return await js.pull_subscribe_bind(durable=durable, stream=s.stream)

    async def _consume(self, inbox: _Inbox, sub: Any) -> None:
        """Fetch, deliver, settle, record, acknowledge; the next fetch is already on its way
        while a batch is handled, so its round trip overlaps the guest's work. A gap in an
        origin's sequence (a fetch whose reply was lost, e.g. while the stream changed leader)
        stops the batch before it, and the consumer is recreated at the acknowledged floor:
        acknowledging past a gap (AckAll) would lose the frames in it."""
        import nats.errors
        from nats.js.errors import FetchTimeoutError

        name = inbox.name
        waiting = (FetchTimeoutError, nats.errors.TimeoutError, asyncio.TimeoutError)
        loop = asyncio.get_running_loop()
        ahead: asyncio.Task[list[Msg]] | None = None
        #: The batch being settled (recorded, acknowledged) while the next one is handled.
        settling: asyncio.Task[None] | None = None
        try:
            while inbox.fetching and name in self._local:
                fetch = ahead or loop.create_task(sub.fetch(self.fetch_batch, timeout=0.5))
                ahead = None
                try:
                    msgs = await fetch
                except waiting:
                    continue
                except Exception as exc:  # cut off from NATS, a 503 while a leader is elected
                    logger.info("consumer of %s: %s; fetching again", name, exc)
                    await asyncio.sleep(0.1)
                    continue
                if not msgs:
                    continue
                batch, record, taken = await self._enqueue(inbox, msgs)
                if batch is None:
                    break
                if inbox.fetching and taken == len(msgs):
                    ahead = loop.create_task(sub.fetch(self.fetch_batch, timeout=0.5))
                # Batches settle in order, one behind: this one's record and acknowledgement
                # overlap the guest's handling of the next.
                previous, settling = settling, loop.create_task(
                    self._settle(inbox, msgs[:taken], batch, record, after=settling))
                if previous is not None:
                    await previous
                if taken < len(msgs):
                    await settling
                    logger.info("consumer of %s: frames missing before stream seq %s; taking "
                                "them again from the acknowledged floor", name,
                                msgs[taken].metadata.sequence.stream)
                    await self._unsubscribe(sub)
                    sub = await self._retrying(lambda: self._consumer(name),
                                               f"recreate the consumer of {name}")
        finally:
            if ahead is not None:
                ahead.cancel()  # what it fetched stays unacknowledged: redelivered to the next
                try:
                    await ahead
                except BaseException:  # cancelled, or failed on a closed connection first
                    pass
            if settling is not None:
                try:
                    await settling
                except Exception as exc:
                    logger.warning("consumer of %s: last batch not acknowledged: %s", name, exc)
            await self._unsubscribe(sub)

    @staticmethod
    async def _unsubscribe(sub: Any) -> None:
        try:
            await sub.unsubscribe()
        except Exception:
            pass

    async def _enqueue(self, inbox: _Inbox, msgs: list[Msg]
                       ) -> tuple[_Batch | None, dict[str, int] | None, int]:
        """Put the new frames of one fetch into the component's mailbox: a frame at or below
        its origin's recorded seq is a redelivery (dropped); one past the next seq of a known
        origin means frames are missing, and the fetch is taken only up to that pack. Returns
        the batch to wait for, the dedup table to record once it is settled (None:
        unchanged) and how many of ``msgs`` were taken."""
        host = self._host
        assert host is not None
        try:
            mailbox = host.ref(inbox.name).actor.mailbox
        except (ComponentNotFound, ActorStateError):
            inbox.fetching = False  # stopped here meanwhile: whoever runs it next takes these
            return None, None, 0
        handled = inbox.handled
        batch = _Batch()
        changed = False
        cids = self._cids
        taken = received = 0
        for msg in msgs:
            try:
                origin, items = unpack(msg.data)
            except LatticeError as exc:
                self._rejected += 1
                logger.error("component %s: dropped a pack that does not decode: %s",
                             inbox.name, exc)
                taken += 1
                continue
            last = handled.get(origin)
            if last is not None and items and items[0][0] > last + 1:
                break  # a gap: never acknowledge past it
            taken += 1
            last = last or 0
            settle = batch.settle
            for seq, namespace, sender, version, frame in items:
                if seq <= last:
                    self._dedup += 1
                    continue
                last = seq
                cid = cids.get(sender)  # one id object per sender, not one per frame
                if cid is None or cid.namespace != namespace or cid.version != version:
                    cid = cids[sender] = ComponentId(sender, namespace, version)
                batch.outstanding += 1
                received += 1
                delivery = Delivery(cid, frame, settle, None)
                try:
                    mailbox.try_put(delivery)
                except MailboxFull:
                    await mailbox.put(delivery)  # backpressure: the consumer waits, not NATS
            if last != handled.get(origin, 0):
                handled.pop(origin, None)  # most recent last: the oldest sessions are dropped
                handled[origin] = last
                changed = True
        self._received += received
        while len(handled) > _ORIGINS_KEPT:
            del handled[next(iter(handled))]
        # A copy: frames of the next fetch may be enqueued before this batch is recorded.
        return batch, dict(handled) if changed else None, taken

    async def _settle(self, inbox: _Inbox, msgs: list[Msg], batch: _Batch,
                      record: dict[str, int] | None, *,
                      after: asyncio.Task[None] | None = None) -> None:
        """Once every frame of the batch was handled or dead-lettered, and what handling them
        sent to other nodes is acknowledged by JetStream (so a chain of components loses
        nothing when this node dies): record the dedup table (a redelivery after a node loss
        is then dropped), then acknowledge the batch (AckAll: its last message); ``after``:
        the previous batch's settling, finished first (records and acknowledgements in
        order)."""
        if after is not None:
            await after
        if batch.outstanding > 0:
            await batch.event.wait()
        await self._published_up_to({o: o.mailbox.accepted for o in self._outboxes.values()})
        if record is not None:
            await self._retrying(lambda: self._kv[self.subjects.handled].put(
                token(inbox.name), dumps(record)), f"record what {inbox.name} handled")
        if msgs:
            await self._retrying(msgs[-1].ack, f"acknowledge frames of {inbox.name}")

    async def _retrying(self, call: Any, what: str,
                        fatal: tuple[type[BaseException], ...] = ()) -> Any:
        """``await call()`` until NATS answers (it reconnects by itself); ``fatal`` errors
        are raised at once (an answer, not a failure to get one)."""
        delay = _RETRY
        while True:
            try:
                return await call()
            except fatal:
                raise
            except Exception as exc:
                if self._nc is None or self._nc.is_closed:
                    raise LatticeUnavailable(f"could not {what}: the NATS connection is closed"
                                             ) from None
                logger.warning("could not %s (%s); retrying", what, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _close_inbox(self, name: str) -> None:
        inbox = self._inboxes.pop(name, None)
        if inbox is None:
            return
        inbox.fetching = False
        if inbox.task is not None:
            inbox.task.cancel()
            try:
                await inbox.task
            except (asyncio.CancelledError, Exception):
                pass

    # -- frames out: one outbox per component on another node ------------------------------------
    def _ensure_outbox(self, name: str, placed: _Placed) -> None:
        host = self._host
        assert host is not None
        if name in self._local or name in self._starting or placed.node == self.node:
            return
        cid = placed.cid or ComponentId(name)
        # A frame must fit one NATS message with its pack around it.
        ceiling = self._max_payload - PACK_OVERHEAD
        limit = min(placed.max_message, ceiling) if placed.max_message else ceiling
        outbox = self._outboxes.get(name)
        if outbox is None:
            mailbox = Mailbox(self.outbound_capacity, name=f"{name} (on the lattice)")
            outbox = _Outbox(name, self.subjects.inbox(name), mailbox)
            self._outboxes[name] = outbox
            mailbox.call_on_wake(self._wake, outbox)
        else:
            route = host.router.get(name)
            if route is not None and route.component_id == cid and route.max_message == limit:
                return
            host.router.remove(name, outbox.mailbox)
        if name not in host.router:
            host.router.add(name, outbox.mailbox, cid, limit)

    def _drop_outbox(self, name: str) -> None:
        """``name`` runs here now, or is gone: local sends go to its own mailbox from now on;
        frames still queued for the old placement are published first (the stream keeps them
        for whoever runs it)."""
        outbox = self._outboxes.get(name)
        host = self._host
        if outbox is None or host is None:
            return
        host.router.remove(name, outbox.mailbox)
        if not len(outbox.mailbox) and outbox.task is None:
            del self._outboxes[name]

    def _wake(self, outbox: _Outbox) -> None:
        if outbox.task is None:
            outbox.task = asyncio.get_running_loop().create_task(self._pump(outbox))

    async def _pump(self, outbox: _Outbox) -> None:
        """Publish ``outbox`` pack by pack (one publish in flight per component, so a retried
        publish can never overtake the next) until it is empty, then park again."""
        host = self._host
        assert host is not None
        mailbox = outbox.mailbox
        budget = self._max_payload - PACK_OVERHEAD
        seqs = self._seqs
        name = outbox.name
        try:
            while True:
                items = mailbox.drain(self.pack_frames)
                if not items:
                    break
                frames: list[tuple[int, ComponentId, bytes]] = []
                size = 0
                for item in items:
                    if type(item) is tuple:
                        if frames and size + len(item[1]) + 64 > budget:
                            await self._publish(outbox, frames)
                            frames, size = [], 0
                        seq = seqs[name] = seqs.get(name, 0) + 1
                        frames.append((seq, item[0], item[1]))
                        size += len(item[1]) + 64
                    elif type(item) is RequestEnvelope:
                        self._task(self._remote_request(outbox.name, item))
                    else:
                        assert host.system is not None
                        host.system.dead_letter(None, item, DeadLetterReason.FAILED, TypeError(
                            f"{type(item).__name__} cannot travel to another node"),
                            recipient=outbox.name)
                if frames:
                    await self._publish(outbox, frames)
                outbox.done += len(items)
                async with self._progress:
                    self._progress.notify_all()
        finally:
            outbox.task = None
            if not mailbox.closed:
                if len(mailbox):
                    self._wake(outbox)
                else:
                    mailbox.call_on_wake(self._wake, outbox)
                    if outbox.name not in host.router and outbox.name in self._outboxes:
                        del self._outboxes[outbox.name]  # dropped while publishing

    async def _publish(self, outbox: _Outbox, frames: list[tuple[int, ComponentId, bytes]]
                       ) -> None:
        js = self._js
        assert js is not None
        data = pack(self._origin, frames)
        headers = {"Nats-Msg-Id": f"{self._origin}:{outbox.token}:{frames[0][0]}"}
        delay = _RETRY
        while True:
            try:
                await js.publish(outbox.subject, data, stream=self.subjects.stream,
                                 headers=headers, timeout=2.0)
                break
            except Exception as exc:
                if self._nc is None or self._nc.is_closed:
                    raise LatticeUnavailable(
                        f"{len(frames)} frames for {outbox.name!r} could not be published: the "
                        "NATS connection is closed") from None
                self._retries += 1
                logger.debug("publish to %s not acknowledged (%s); retrying", outbox.name, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        self._frames_sent += len(frames)
        self._packs_sent += 1

    async def _published_up_to(self, accepted: dict[_Outbox, int]) -> None:
        """Wait until each outbox finished the items it had accepted when ``accepted`` was
        taken (later ones do not hold this up)."""
        def caught_up() -> bool:
            return all(o.done >= n or o.mailbox.closed for o, n in accepted.items())

        if not caught_up():
            async with self._progress:
                await self._progress.wait_for(caught_up)

    async def flush(self, timeout: float | None = 10.0) -> int:
        """Wait until JetStream acknowledged every frame sent to other nodes before this call:
        from then on a node loss cannot lose them. Returns how many frames this node has sent
        in all; LatticeUnavailable when NATS does not acknowledge them within ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            busy = [o.task for o in self._outboxes.values() if o.task is not None]
            if not busy:
                if not any(len(o.mailbox) for o in self._outboxes.values()):
                    return self._frames_sent
                await asyncio.sleep(0)
                continue
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise LatticeUnavailable(
                    f"{sum(len(o.mailbox) for o in self._outboxes.values())} frames are still "
                    f"waiting for NATS after {timeout} s; they stay buffered and are published "
                    "when NATS answers again")
            await asyncio.wait(busy, timeout=remaining)

    # -- watching the buckets --------------------------------------------------------------------
    async def _watch(self, bucket: str, handler: Any) -> None:
        """Follow ``bucket``: its current entries are applied before this returns, later
        changes as they come."""
        watcher = await self._kv[bucket].watchall()
        while True:
            entry = await watcher.updates(timeout=5.0)
            if entry is None:
                break
            handler(entry)

        async def follow() -> None:
            while True:
                try:
                    entry = await watcher.updates(timeout=60.0)
                except Exception:
                    if self._nc is None or self._nc.is_closed:
                        return
                    continue
                if entry is not None:
                    try:
                        handler(entry)
                    except Exception:  # a bad entry must not end the watch
                        logger.exception("lattice %s: bad entry in %s", self.name, bucket)

        self._background.append(asyncio.get_running_loop().create_task(follow()))

    def _on_node_entry(self, entry: Any) -> None:
        key = entry.key
        if entry.operation in ("DEL", "PURGE") or entry.value is None:
            member = self._members.pop(key, None)
            if member is None or member.name == self.node:
                return
            if member.alive:
                logger.info("node %s left lattice %s", member.name, self.name)
            for name, placed in list(self._placed.items()):
                # A node that leaves hands its components over first; one still placed on it
                # (it died while leaving) is claimed like one of a lost node.
                if placed.node == member.name and placed.state in ("starting", "running"):
                    self._task(self._claim(name, placed, handover=False))
            return
        value = loads(entry.value, "node entry")
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            return
        loop = asyncio.get_running_loop()
        member = self._members.get(key)
        if member is None or member.boot != value.get("boot"):
            member = _Member(value["name"], value.get("labels") or {}, value.get("boot", ""),
                             loop.time(), entry.revision)
            self._members[key] = member
            if member.name != self.node:
                for name, placed in list(self._placed.items()):
                    if placed.state == "orphaned":  # a node joined: someone can take them now
                        self._task(self._claim(name, placed, handover=True))
        member.seen = loop.time()
        member.alive = True
        member.revision = entry.revision

    def _on_placement(self, entry: Any) -> None:
        name = self._name_of(entry.key)
        host = self._host
        assert host is not None
        if entry.operation in ("DEL", "PURGE") or entry.value is None:
            self._placed.pop(name, None)
            self._drop_outbox(name)
            return
        placed = _Placed(loads(entry.value, "placement entry"), entry.revision)
        old = self._placed.get(name)
        if old is not None and old.revision > placed.revision:
            return  # our own newer write arrived first
        self._placed[name] = placed
        waiter = self._waiters.get(name)
        if waiter is not None and not waiter.done() and placed.state in ("running", "failed"):
            waiter.set_result(placed)
        if placed.state == "failed":
            if name not in self._local:
                self._drop_outbox(name)
            return
        if placed.state == "orphaned":
            self._task(self._claim(name, placed, handover=True))
            return
        if placed.node == self.node:
            if name not in self._local and name not in self._starting:
                self._task(self._start_placed(name, placed))  # placed here by another node
            return
        if name in self._local and name not in self._quiet:
            # Another node owns it now (it claimed it while this node was cut off): stop the
            # copy here so it never runs twice.
            self._task(self._evict(name))
            return
        if name not in self._local:
            self._ensure_outbox(name, placed)

    def _name_of(self, key: str) -> str:
        return bytes.fromhex(key[2:]).decode() if key.startswith("x-") else key

    async def _start_placed(self, name: str, placed: _Placed) -> None:
        try:
            spec = await self._spec(name)
            await self._start_here(name, spec, placed)
        except Exception:
            pass  # recorded as failed in the placement entry, logged by _start_here

    async def _spec(self, name: str) -> ComponentSpec:
        entry = await self._kv[self.subjects.specs].get(token(name))
        return ComponentSpec.from_bytes(entry.value or b"")

    async def _evict(self, name: str) -> None:
        host = self._host
        assert host is not None
        logger.warning("node %s stops its copy of %s: node %s runs it now", self.node, name,
                       self.where(name))
        self._quiet.add(name)
        try:
            await self._close_inbox(name)
            self._local.discard(name)
            try:
                await host.stop_local(name)
            except ComponentNotFound:
                pass
            placed = self._placed.get(name)
            if placed is not None:
                self._ensure_outbox(name, placed)
        finally:
            self._quiet.discard(name)

    # -- liveness and failover -------------------------------------------------------------------
    async def _heartbeats(self) -> None:
        kv = self._kv[self.subjects.nodes]
        key = token(self.node)
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await kv.put(key, self._node_value())
            except Exception as exc:
                logger.debug("heartbeat of %s not written: %s", self.node, exc)

    async def _reconnected(self) -> None:
        # This node heard nobody while it was cut off: give every node a fresh grace period
        # rather than declare them all lost.
        now = asyncio.get_running_loop().time()
        for member in self._members.values():
            member.seen = now
        logger.info("node %s reconnected to NATS", self.node)

    async def _nats_error(self, exc: Exception) -> None:
        self._last_error = exc
        logger.debug("NATS (node %s): %s", self.node, exc)

    async def _monitor(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.heartbeat / 2)
            now = loop.time()
            stalled, last = now - last > self.failover_after / 2, now
            if self._nc is None or not self._nc.is_connected or stalled:
                # Cut off, or this process was frozen (SIGSTOP, a stalled loop): it heard
                # nobody, which says nothing about the others. A fresh grace period, not
                # a failover decided on stale news.
                for member in self._members.values():
                    member.seen = now
                continue
            for key, member in list(self._members.items()):
                if member.name == self.node or not member.alive:
                    continue
                if now - member.seen > self.failover_after:
                    member.alive = False
                    logger.warning("node %s lost: silent for %.1f s", member.name,
                                   now - member.seen)
                    self._task(self._remove_member(key, member))
                    for name, placed in list(self._placed.items()):
                        if placed.node == member.name and placed.state in ("starting",
                                                                           "running"):
                            self._task(self._claim(name, placed, handover=False))

    async def _remove_member(self, key: str, member: _Member) -> None:
        try:
            await self._kv[self.subjects.nodes].delete(key, last=member.revision)
        except Exception:
            pass  # another survivor removed it first, or it came back

    async def _claim(self, name: str, seen: _Placed, *, handover: bool) -> None:
        """Try to take ``name`` over (exactly one node wins the compare-and-swap); start it
        here when this node won, or record it failed when its restart intensity is spent."""
        from nats.js.errors import KeyWrongLastSequenceError

        if self._leaving:
            return
        try:
            spec = await self._spec(name)
            rule = spec.rule
            live = [n for n in self.nodes() if n.alive and n.name != seen.node]
            try:
                order = candidates(rule, live, name)
            except LatticeError as exc:
                logger.warning("%s", exc)
                return
            if self.node not in order:
                return
            await asyncio.sleep(order.index(self.node) * 0.05)  # the preferred node goes first
            current = self._placed.get(name)
            if self._leaving or current is None or current.revision != seen.revision:
                return  # someone else moved it already
            placed = _Placed(seen.to_wire(), seen.revision)
            now = time.time()
            if not handover:
                placed.restarts = [t for t in placed.restarts if now - t < spec.within] + [now]
            if len(placed.restarts) > spec.max_restarts:
                placed.state, placed.node = "failed", None
                placed.error = ["other", f"component {name!r} was restarted on another node "
                                f"{len(placed.restarts) - 1} times within {spec.within} s "
                                f"(max_restarts {spec.max_restarts}): given up lattice-wide"]
            else:
                placed.state, placed.node, placed.epoch = "starting", self.node, seen.epoch + 1
                # Before the swap: the watcher may report this node's own write before the
                # swap's reply, and must not start the component a second time.
                self._starting.add(name)
            try:
                placed.revision = await self._kv[self.subjects.placements].update(
                    token(name), dumps(placed.to_wire()), last=seen.revision)
            except KeyWrongLastSequenceError:
                self._starting.discard(name)
                return  # another node won
            self._placed[name] = placed
            if placed.state == "failed":
                logger.error("%s", placed.error[1] if placed.error else name)
                return
            self._failovers += 1
            logger.log(logging.INFO if handover else logging.WARNING, "node %s takes over %s (%s)",
                       self.node, name, "handover" if handover else f"node {seen.node} lost")
            await self._start_here(name, spec, placed)
        except Exception as exc:
            self._starting.discard(name)
            logger.error("node %s could not take over %s: %s", self.node, name, exc)

    def _task(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def settled(self, timeout: float = 10.0) -> None:
        """Wait until this node's pending lattice work (claims, subscriptions, records) is
        done; tests and scripts use it before looking at the lattice's state."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise LatticeError(f"lattice work of node {self.node!r} did not finish within "
                                   f"{timeout} s")
            await asyncio.wait(list(self._tasks), timeout=remaining)

    # -- events of the local components ----------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if not isinstance(event, LifecycleEvent) or event.actor not in self._local:
            return
        if event.state is ActorState.FAILED and isinstance(event.error, SupervisorEscalation):
            # Its supervisor gave up: failed lattice-wide, nobody restarts it.
            if not self._leaving and event.actor not in self._quiet:
                self._task(self._mark_failed(event.actor, event.error))
        elif event.state is ActorState.STOPPED and not self._leaving \
                and event.actor not in self._quiet:
            host = self._host
            assert host is not None
            ref = host.ref(event.actor) if event.actor in host.registry else None
            if ref is None or ref.actor.mailbox.closed:
                self._task(self.forget(event.actor))  # ended for good (e.g. transient)

    async def _mark_failed(self, name: str, error: BaseException) -> None:
        await self._close_inbox(name)
        self._local.discard(name)
        placed = self._placed.get(name)
        if placed is not None:
            placed.state, placed.error = "failed", error_to_wire(error)
            try:
                await self._write_placement(name, placed)
            except Exception as exc:
                logger.warning("could not record %s failed: %s", name, exc)

    async def forget(self, name: str) -> None:
        """Remove ``name`` from the lattice for good: its placement, spec, dedup table,
        consumer and queued frames (``Host.stop`` calls it after stopping the component)."""
        await self._close_inbox(name)
        self._local.discard(name)
        await self._forget_everywhere(name)

    async def _forget_everywhere(self, name: str) -> None:
        js = self._js
        assert js is not None
        key = token(name)
        s = self.subjects
        self._placed.pop(name, None)
        self._drop_outbox(name)
        for bucket in (s.placements, s.specs, s.handled):
            try:
                await self._kv[bucket].purge(key)
            except Exception as exc:
                logger.debug("purge %s/%s: %s", bucket, key, exc)
        try:
            await js.delete_consumer(s.stream, f"c-{key}")
        except Exception:
            pass
        try:
            await js.purge_stream(s.stream, subject=s.inbox(name))
        except Exception as exc:
            logger.debug("purge frames of %s: %s", name, exc)

    # -- requests and control, to the owning node ------------------------------------------------
    async def _call(self, name: str, what: str, payload: bytes, timeout: float) -> Any:
        """Core-NATS request to the node running ``name``, following it while it moves."""
        import nats.errors

        nc = self._nc
        assert nc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            node = self.where(name)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ComponentNotFound(f"component {name!r} is not running on any node of "
                                        f"lattice {self.name!r} (it may be moving); retry")
            if node is None or node == self.node:
                if name not in self._placed:
                    raise ComponentNotFound(f"no component named {name!r} in lattice "
                                            f"{self.name!r}; spawn it first")
                await asyncio.sleep(0.02)
                continue
            try:
                msg = await nc.request(self.subjects.node(node, what), payload, timeout=remaining)
            except nats.errors.NoRespondersError:
                await asyncio.sleep(0.02)  # its node is gone: wait for the failover
                continue
            except nats.errors.TimeoutError:
                raise asyncio.TimeoutError from None
            reply = loads(msg.data, "reply")
            if not isinstance(reply, list) or not reply:
                raise LatticeError(f"node {node!r} sent a malformed reply")
            if reply[0] == "moved":
                await asyncio.sleep(0.02)
                continue
            if reply[0] == "err":
                raise error_from_wire(reply[1] if len(reply) > 1 else None, node)
            return reply[1] if len(reply) > 1 else None

    async def _remote_request(self, name: str, envelope: RequestEnvelope) -> None:
        """A request (from Python or a guest's send-request) for a component on another node:
        its outcome closes the local pending request like a local reply would."""
        host = self._host
        assert host is not None and host.requests is not None
        requests = host.requests
        pending = envelope.request
        ctx = envelope.context
        caller = ctx.caller.component_id if ctx.caller else None
        payload = dumps([name, envelope.operation, ctx.timeout_ms,
                         [caller.namespace, caller.name, caller.version] if caller else None,
                         ctx.caller.external_source if ctx.caller else None])
        remaining = pending.deadline - asyncio.get_running_loop().time()
        if remaining <= 0 or not pending.open:
            return
        try:
            reply = await self._call(name, "req", payload, remaining)
        except asyncio.TimeoutError:
            return  # the request table times it out (RequestTimeout / the guest's callback)
        except AirssysError as exc:
            requests.fail(pending, exc)
            return
        requests.reply(pending, reply if isinstance(reply, bytes) else b"")

    async def _on_request(self, msg: Msg) -> None:
        host = self._host
        assert host is not None and host.requests is not None
        requests = host.requests
        try:
            name, operation, timeout_ms, caller, external = loads(msg.data, "request")
            if name not in self._local:
                await msg.respond(dumps(["moved"]))
                return
            route = host.router.get(name)
            if route is None:
                raise ComponentNotFound(f"component {name!r} is stopping; it takes no requests")
            cid = ComponentId(caller[1], caller[0], caller[2]) if caller else host.config.host_id
            timeout = max(int(timeout_ms), 1) / 1000.0
            pending = requests.open(cid, name, timeout)
            context = requests.context(pending, CallerInfo(component_id=cid,
                                                           external_source=external))
            envelope = RequestEnvelope(pending, bytes(operation), context)
            assert pending.future is not None
            try:
                try:
                    route.mailbox.try_put(envelope)
                except MailboxFull:
                    await asyncio.wait_for(route.mailbox.put(envelope), timeout)
                reply = await asyncio.wait_for(pending.future, timeout)
            except asyncio.TimeoutError:
                requests.give_up(pending)
                return  # no answer: the caller's own deadline reports it
            await msg.respond(dumps(["ok", reply]))
        except Exception as exc:
            await self._answer_error(msg, exc, "request")

    async def _on_control(self, msg: Msg) -> None:
        host = self._host
        assert host is not None
        try:
            op, args = loads(msg.data, "control call")
            if op == "publish":
                topic, frame, sender = args
                assert host.system is not None
                cid = ComponentId(sender[1], sender[0], sender[2])
                count = await host.system.broker.publish(topic, (cid, frame))
                await msg.respond(dumps(["ok", count]))
                return
            name = args[0]
            if name not in self._local:
                await msg.respond(dumps(["moved"]))
                return
            if op == "health":
                status = await host.health(name)
                await msg.respond(dumps(["ok", status.value]))
            elif op == "stop":
                await self._stop_here(name)
                await msg.respond(dumps(["ok", None]))
            elif op == "subscribe":
                assert host.system is not None
                ref = host.ref(name)
                host.system.broker.subscribe(args[1], ref.actor)
                await msg.respond(dumps(["ok", None]))
            elif op == "unsubscribe":
                assert host.system is not None
                ref = host.ref(name)
                done = host.system.broker.unsubscribe(args[1], ref.actor)
                await msg.respond(dumps(["ok", done]))
            else:
                raise LatticeError(f"unknown control call {op!r}")
        except Exception as exc:
            await self._answer_error(msg, exc, "control call")

    async def _answer_error(self, msg: Msg, exc: Exception, what: str) -> None:
        """Answer a request or control call with ``exc``: a typed error is the answer itself,
        anything else is also logged (a bug here, not the caller's mistake)."""
        if not isinstance(exc, AirssysError):
            logger.error("%s on node %s failed", what, self.node, exc_info=exc)
        await msg.respond(dumps(["err", error_to_wire(exc)]))

    async def _stop_here(self, name: str) -> None:
        host = self._host
        assert host is not None
        self._quiet.add(name)
        try:
            await self._close_inbox(name)
            await host.stop_local(name)
            await self.forget(name)
        finally:
            self._quiet.discard(name)

    async def stop(self, name: str) -> None:
        """``Host.stop`` on a lattice host: stop ``name`` wherever it runs, for good."""
        host = self._host
        assert host is not None
        if name in self._local or name in host.registry:
            await self._stop_here(name)
            return
        placed = self._placed.get(name)
        if placed is None:
            raise ComponentNotFound(f"no component named {name!r} in lattice {self.name!r}")
        if placed.state in ("failed", "orphaned"):
            await self.forget(name)
            return
        await self._call(name, "ctl", dumps(["stop", [name]]), 30.0)

    async def health(self, name: str) -> HealthStatus:
        """``Host.health`` of a component on another node."""
        return HealthStatus(await self._call(name, "ctl", dumps(["health", [name]]), 10.0))

    def subscribe(self, topic: str, name: str) -> None:
        """Record ``topic`` in ``name``'s spec (its next node subscribes it too) and, when it
        runs on another node, have that node subscribe it now."""
        self._task(self._subscription(topic, name, True))

    def unsubscribe(self, topic: str, name: str) -> bool:
        """Undo ``subscribe``; True when ``name`` is a component of the lattice."""
        if name not in self._placed:
            return False
        self._task(self._subscription(topic, name, False))
        return True

    async def _subscription(self, topic: str, name: str, add: bool) -> None:
        kv = self._kv[self.subjects.specs]
        key = token(name)
        while True:
            entry = await kv.get(key)
            spec = ComponentSpec.from_bytes(entry.value or b"")
            topics = [t for t in spec.topics if t != topic] + ([topic] if add else [])
            if topics == spec.topics:
                break
            spec.topics = topics
            try:
                await kv.update(key, spec.to_bytes(), last=entry.revision)
                break
            except Exception:
                continue  # changed meanwhile: read it again
        if self.owns(name):
            await self._call(name, "ctl", dumps(["subscribe" if add else "unsubscribe",
                                                 [name, topic]]), 10.0)

    async def publish(self, topic: str, frame: bytes) -> int:
        """Deliver ``frame`` to ``topic``'s subscribers on every other live node; how many."""
        import nats.errors

        host = self._host
        nc = self._nc
        assert host is not None and nc is not None
        sender = host.config.host_id
        payload = dumps(["publish", [topic, frame,
                                     [sender.namespace, sender.name, sender.version]]])
        others = [n.name for n in self.nodes() if n.alive and n.name != self.node]

        async def one(node: str) -> int:
            try:
                msg = await nc.request(self.subjects.node(node, "ctl"), payload, timeout=2.0)
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError) as exc:
                logger.warning("publish on %s: node %s did not answer (%s)", topic, node, exc)
                return 0
            reply = loads(msg.data, "reply")
            return int(reply[1]) if isinstance(reply, list) and reply[0] == "ok" else 0

        counts = await asyncio.gather(*(one(node) for node in others))
        return sum(counts)
