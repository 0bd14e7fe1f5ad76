"""Supervisors: restart strategies, restart intensity, escalation, ordered start/stop.

Children start in declaration order and stop in reverse, so a child may rely on the siblings
started before it. When a child exits, its restart policy says whether to act, the strategy says
which siblings restart with it, its backoff says how long to wait, and the sliding restart window
says whether this is still a recoverable situation. Past the intensity the supervisor stops its
children and exits with OTP's reason ``shutdown``: its parent restarts it if it is ``permanent``
(counting that restart against its own intensity) and keeps it stopped if it is ``transient``
or ``temporary``. A supervisor is itself a child, so trees nest to any depth.

The decisions follow OTP's ``supervisor`` (see the tests that replay OTP traces): temporary
siblings are stopped and dropped by a group restart, a group restart stops at the first child
that fails to start and retries (counting a restart), a transient child that exited normally
keeps its place so a later group restart starts it again. The root supervisor of an
``ActorSystem`` is the exception that makes a multi-tenant host possible: by default it counts
the intensity per top-level child and stops only the child that went over it (``GiveUpPolicy``).

Exits are handled one at a time (a lock), and every exit is stamped with the incarnation it
belongs to: a report from an incarnation that was already replaced is ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Union

from airssys_wasm.actor.backoff import Backoff, BackoffState, RestartWindow
from airssys_wasm.actor.cell import ActorCell, ActorRef, ShutdownReport
from airssys_wasm.actor.events import EscalationEvent, RestartEvent
from airssys_wasm.actor.spec import ChildSpec, GiveUpPolicy, RestartPolicy, SupervisorStrategy
from airssys_wasm.errors import ActorStateError, ComponentNotFound, ConfigError, SupervisorEscalation

if TYPE_CHECKING:
    from airssys_wasm.actor.system import ActorSystem

__all__ = ["RootSupervisor", "Supervisor"]

_Child = Union[ActorCell, "Supervisor"]


class Supervisor:
    """A node of the supervision tree.

    ``children`` are ``ChildSpec``s and nested ``Supervisor``s, started in that order.
    ``restart`` and ``backoff`` apply when this supervisor is itself supervised.
    """

    def __init__(
        self,
        name: str,
        children: Iterable[ChildSpec | Supervisor] = (),
        *,
        strategy: SupervisorStrategy | str = SupervisorStrategy.ONE_FOR_ONE,
        max_restarts: int = 3,
        within: float = 5.0,
        restart: RestartPolicy | str = RestartPolicy.PERMANENT,
        backoff: Backoff | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"Supervisor name must be a non-empty string, got {name!r}")
        self.name = name
        self.strategy = SupervisorStrategy(strategy)
        self.restart = RestartPolicy(restart)
        self.backoff_state = BackoffState(backoff if backoff is not None else Backoff())
        self.max_restarts = max_restarts
        self.within = within
        # Validates max_restarts/within now; rebound to the system clock on attach.
        self._window = RestartWindow(max_restarts, within, lambda: 0.0)
        self._specs: list[ChildSpec | Supervisor] = []
        for child in children:
            if not isinstance(child, (ChildSpec, Supervisor)):
                raise TypeError(
                    f"supervisor {name!r}: children must be ChildSpec or Supervisor, "
                    f"not {type(child).__name__}")
            self._specs.append(child)
        self.system: ActorSystem | None = None
        self.parent: Supervisor | None = None
        self.incarnation = 0
        self.restarts = 0
        self.running = False
        self._children: list[_Child] = []
        self._lock = asyncio.Lock()
        self._pending: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<Supervisor {self.name} {self.strategy.value} children={self.children}>"

    @property
    def children(self) -> list[str]:
        """Names of the current children, in start order."""
        return [child.name for child in self._children]

    def child(self, name: str) -> ActorRef | Supervisor:
        """The child named ``name`` (an ``ActorRef``, or a nested ``Supervisor``).

        ComponentNotFound, listing the children, when there is none: a typo in a name should say
        which names exist."""
        for child in self._children:
            if child.name == name:
                return child.ref if isinstance(child, ActorCell) else child
        raise ComponentNotFound(f"supervisor {self.name!r} has no child {name!r}; "
                                f"its children are {self.children}")

    # -- wiring ----------------------------------------------------------------------------------
    def _attach(self, system: ActorSystem, parent: Supervisor | None) -> None:
        if self.system is not None:
            raise ActorStateError(
                f"supervisor {self.name!r} is already part of a tree; create a new Supervisor")
        system._register_name(self.name, self)
        self.system = system
        self.parent = parent
        self._window = RestartWindow(self.max_restarts, self.within, system.clock)
        for spec in self._specs:
            self._children.append(self._make_child(spec))

    def _make_child(self, spec: ChildSpec | Supervisor) -> _Child:
        assert self.system is not None
        if isinstance(spec, Supervisor):
            spec._attach(self.system, self)
            return spec
        self.system._check_name_free(spec.name)
        cell = ActorCell(self.system, spec, self)
        self.system._register_name(spec.name, cell)
        return cell

    # -- lifecycle as a child --------------------------------------------------------------------
    async def start(self) -> None:
        """Start (or restart) every child in order; on failure stop the started ones and raise."""
        self.incarnation += 1
        if self.incarnation > 1:
            self.restarts += 1
        self._window.reset()
        self.running = True
        assert self.system is not None
        self.backoff_state.mark_started(self.system.clock())
        for index, child in enumerate(self._children):
            try:
                await child.start()
            except Exception:
                self.running = False
                for started in reversed(self._children[:index]):
                    await started.halt()
                raise

    async def halt(self) -> None:
        """Stop every child's incarnation in reverse order; mailboxes stay open for a restart."""
        self.running = False
        await self._cancel_pending()
        for child in reversed(self._children):
            await child.halt()

    async def terminate(self, *, drain: bool, report: ShutdownReport,
                        gave_up: BaseException | None = None) -> None:
        """Stop every child for good, in reverse start order (``gave_up``: see ActorCell)."""
        self.running = False
        await self._cancel_pending()
        for child in reversed(self._children):
            await child.terminate(drain=drain, report=report, gave_up=gave_up)
        self._children.clear()
        assert self.system is not None
        self.system._unregister(self)

    async def _cancel_pending(self) -> None:
        current = asyncio.current_task()
        pending = [task for task in self._pending if task is not current and not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    # -- dynamic children ------------------------------------------------------------------------
    async def start_child(self, spec: ChildSpec | Supervisor) -> ActorRef | Supervisor:
        """Add a child at the end of the start order and start it; raises if it cannot start."""
        if self.system is None or not self.running:
            raise ActorStateError(
                f"supervisor {self.name!r} is not running; start it before adding children")
        if not isinstance(spec, (ChildSpec, Supervisor)):
            raise TypeError(f"expected a ChildSpec or Supervisor, not {type(spec).__name__}")
        child = self._make_child(spec)
        self._children.append(child)
        try:
            await child.start()
        except Exception:
            self._remove(child)
            await child.terminate(drain=False, report=ShutdownReport())
            raise
        return child.ref if isinstance(child, ActorCell) else child

    async def terminate_child(self, name: str, *, drain: bool = True) -> ShutdownReport:
        """Stop the named child for good and forget it (it will not be restarted)."""
        report = ShutdownReport()
        for child in self._children:
            if child.name == name:
                self._remove(child)
                await child.terminate(drain=drain, report=report)
                return report
        raise ComponentNotFound(f"supervisor {self.name!r} has no child {name!r}; "
                                f"its children are {self.children}")

    # -- failure handling ------------------------------------------------------------------------
    #: Whether a transient child that exited normally keeps its place (OTP: its spec is kept
    #: with no process, so a later one_for_all/rest_for_one group restart starts it again).
    _keeps_exited_children = True

    def child_exited(self, child: _Child, incarnation: int, error: BaseException | None, *,
                     shutdown: bool = False) -> None:
        """Called by a child whose incarnation ended on its own (failure or normal exit).

        ``shutdown``: the child is a supervisor that gave up (``error`` is its escalation); like
        OTP's exit reason ``shutdown`` it counts as a normal exit for the restart policy.
        """
        if not self.running:
            return
        task = asyncio.get_running_loop().create_task(
            self._on_exit(child, incarnation, error, shutdown))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _remove(self, child: _Child) -> None:
        self._children.remove(child)

    def _window_for(self, child: _Child) -> RestartWindow:
        return self._window

    def _lock_for(self, child: _Child) -> asyncio.Lock:
        return self._lock

    def _stops_given_up(self, child: _Child) -> bool:
        """Whether a child supervisor that gave up is stopped for good whatever its policy."""
        return False

    async def _remove_for_good(self, child: _Child, gave_up: BaseException | None) -> None:
        self._remove(child)
        await child.terminate(drain=False, report=ShutdownReport(), gave_up=gave_up)

    async def _on_exit(self, child: _Child, incarnation: int, error: BaseException | None,
                       shutdown: bool) -> None:
        async with self._lock_for(child):
            if not self.running or child not in self._children or child.incarnation != incarnation:
                return
            if shutdown and self._stops_given_up(child):
                await self._remove_for_good(child, error)
                return
            normal = error is None or shutdown
            if child.restart is RestartPolicy.TEMPORARY or (
                    child.restart is RestartPolicy.TRANSIENT and normal):
                if child.restart is RestartPolicy.TEMPORARY or not self._keeps_exited_children:
                    await self._remove_for_good(child, error if shutdown else None)
                return
            if not self._window_for(child).record():
                await self._exceeded(child, error)
                return
            await self._restart(child, error)

    async def _restart(self, child: _Child, error: BaseException | None) -> None:
        """Restart ``child`` and the siblings its strategy groups with it, as OTP does.

        Siblings stop in reverse start order; ``temporary`` ones are stopped for good and
        dropped (they are never restarted). The group starts in order and stops at the first
        child that fails to start: that failure is handled as a fresh exit of that child (it
        counts against the intensity and restarts its own group), so no child ever runs
        without the siblings started before it.
        """
        assert self.system is not None
        group = self._restart_group(child)
        delay = child.backoff_state.next_delay(self.system.clock(), self.system.rng)
        self.system._emit(RestartEvent(child.name, self.name, child.backoff_state.attempt,
                                       delay, error, self.system.clock()))
        for sibling in reversed(group):
            if sibling is child:
                continue
            if sibling.restart is RestartPolicy.TEMPORARY:
                await self._remove_for_good(sibling, None)
            else:
                await sibling.halt()
        if delay > 0:
            await self.system.sleep(delay)
        for member in group:
            if member not in self._children:  # a temporary sibling, or stopped meanwhile
                continue
            try:
                await member.start()
            except Exception as exc:
                # Handled as a fresh exit once this one is done (it takes the lock).
                self.child_exited(member, member.incarnation, exc)
                return

    def _restart_group(self, child: _Child) -> list[_Child]:
        if self.strategy is SupervisorStrategy.ONE_FOR_ONE:
            return [child]
        if self.strategy is SupervisorStrategy.ONE_FOR_ALL:
            return list(self._children)
        return self._children[self._children.index(child):]

    async def _exceeded(self, child: _Child, error: BaseException | None) -> None:
        await self._give_up(child, error)

    def _escalation(self, child: _Child, error: BaseException | None,
                    text: str) -> SupervisorEscalation:
        """The escalation past the intensity (``error`` its cause), announced as an event."""
        assert self.system is not None
        escalation = SupervisorEscalation(text)
        escalation.__cause__ = error
        self.system._emit(EscalationEvent(self.name, self.max_restarts, self.within, error,
                                          self.system.clock(), child.name))
        return escalation

    async def _give_up(self, child: _Child, error: BaseException | None) -> None:
        """Past the intensity: stop every child and exit with reason ``shutdown`` (OTP)."""
        assert self.system is not None
        escalation = self._escalation(
            child, error,
            f"supervisor {self.name!r} exceeded {self.max_restarts} restarts within "
            f"{self.within}s (last failure, of {child.name!r}: {error!r}); its children were "
            "stopped and its parent decides what happens next. Fix the failing child or raise "
            "max_restarts/within")
        self.running = False
        if self.parent is None:
            await self.system._root_gave_up(escalation)
            return
        for member in reversed(self._children):
            await member.halt()
        self.parent.child_exited(self, self.incarnation, escalation, shutdown=True)


class RootSupervisor(Supervisor):
    """The root of an ``ActorSystem``: one_for_one, and never the reason a healthy actor stops.

    With ``GiveUpPolicy.STOP_CHILD`` (the default) every top-level child gets its own restart
    window (``max_restarts`` within ``within``) and its own lock — one child's backoff or
    crash loop never delays another's restart. A child over its intensity is stopped for good
    (``failed``, its queue dead-lettered as ``GAVE_UP``) and an ``EscalationEvent`` names it;
    a top-level supervisor that gave up is stopped for good the same way, whatever its restart
    policy. With ``STOP_SYSTEM`` it is a plain OTP supervisor whose giving up stops the system.

    Children that are not restarted are always forgotten (their names become free): the root
    has no group restarts that could start them again.
    """

    _keeps_exited_children = False

    def __init__(self, name: str, *, max_restarts: int, within: float,
                 on_give_up: GiveUpPolicy | str = GiveUpPolicy.STOP_CHILD) -> None:
        super().__init__(name, max_restarts=max_restarts, within=within)
        self.on_give_up = GiveUpPolicy(on_give_up)
        self._windows: dict[_Child, RestartWindow] = {}
        self._locks: dict[_Child, asyncio.Lock] = {}

    @property
    def _per_child(self) -> bool:
        return self.on_give_up is GiveUpPolicy.STOP_CHILD

    def _remove(self, child: _Child) -> None:
        super()._remove(child)
        self._windows.pop(child, None)
        self._locks.pop(child, None)

    def _window_for(self, child: _Child) -> RestartWindow:
        if not self._per_child:
            return self._window
        window = self._windows.get(child)
        if window is None:
            assert self.system is not None
            window = RestartWindow(self.max_restarts, self.within, self.system.clock)
            self._windows[child] = window
        return window

    def _lock_for(self, child: _Child) -> asyncio.Lock:
        if not self._per_child:
            return self._lock
        lock = self._locks.get(child)
        if lock is None:
            lock = self._locks[child] = asyncio.Lock()
        return lock

    def _stops_given_up(self, child: _Child) -> bool:
        return self._per_child

    async def _exceeded(self, child: _Child, error: BaseException | None) -> None:
        if not self._per_child:
            await self._give_up(child, error)
            return
        escalation = self._escalation(
            child, error,
            f"{child.name!r} failed more than {self.max_restarts} times within {self.within}s "
            f"(last failure: {error!r}); it was stopped for good and its queued messages were "
            "dead-lettered (reason gave_up). Every other actor keeps running. Fix it and spawn "
            "it again, or raise max_restarts/within")
        await self._remove_for_good(child, escalation)
