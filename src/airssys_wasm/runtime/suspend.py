"""Async host functions: how a host function suspends its guest instead of blocking the host.

A host function registered as *suspending* (``define_interface`` does it for ``async def``
functions and for functions marked with :func:`suspending`) may hand back a
:class:`~airssys_wasm._fast.fastcall.HostWait` instead of its result. When the guest's caller is
an asynchronous driver (an actor; :func:`call_suspendable` is true) the guest then suspends on
its fiber, the event loop does the work, and the guest resumes with the result. Synchronous
callers (plain code calling an ``Instance``) get the same functions doing their work inline.

Three ways to produce a wait, one per kind of work:

- :func:`sleep` — a loop timer (``sleep-millis``);
- :func:`run_coroutine` — an ``async def`` (asyncio I/O, an embedder's own function);
- :func:`offload` — a blocking function run in a bounded thread pool (file, sqlite, process
  and socket calls), with the guest's call deadline visible to it through :func:`call_deadline`.

Whatever the wait is for, the guest's wall-clock deadline still holds: the driver cancels a
call that outlives it (the guest traps with kind ``timeout``) and the wait's canceller stops
the timer, cancels the task or drops the queued job. A job already running in a thread cannot
be interrupted; it is bounded by the same deadline (:func:`call_deadline`), and its result is
discarded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from airssys_wasm._fast.fastcall import HostWait, call_suspendable, current_deadline

__all__ = [
    "IO_WORKERS",
    "call_deadline",
    "call_suspendable",
    "is_suspending",
    "offload",
    "run_coroutine",
    "sleep",
    "suspending",
]

F = TypeVar("F", bound=Callable[..., Any])

IO_WORKERS = 16
"""Threads of the pool that runs blocking host work while guests are suspended. Bounded: a
flood of slow calls queues (each still bounded by its guest's deadline) instead of spawning
threads without limit."""

_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_worker = threading.local()          # .deadline: the deadline of the call a job works for
_helper: asyncio.AbstractEventLoop | None = None


def suspending(fn: F) -> F:
    """Mark a host function that may return a HostWait (it is registered through the async
    C API). ``async def`` functions need no mark."""
    fn.suspends = True  # type: ignore[attr-defined]
    return fn


def is_suspending(fn: Callable[..., Any]) -> bool:
    """True if ``fn`` may suspend its guest: marked with :func:`suspending`, or an ``async def``.
    The linker defines such functions as async host functions, so only they pay for a fiber
    switch."""
    return bool(getattr(fn, "suspends", False)) or inspect.iscoroutinefunction(fn)


def call_deadline() -> float | None:
    """``time.monotonic()`` deadline of the guest call the current host work belongs to (None:
    no deadline). Works inline on the guest's fiber and inside :func:`offload` jobs; host work
    bounds its blocking steps by it, so a guest cannot outlive its deadline by waiting."""
    deadline = getattr(_worker, "deadline", None)
    return deadline if deadline is not None else current_deadline()


def _wait(what: str) -> HostWait:
    wait = HostWait()
    wait.what = what
    return wait


def sleep(seconds: float, what: str = "sleep-millis") -> HostWait | None:
    """Sleep ``seconds`` (never past the call's deadline: the guest would only trap on resume)."""
    deadline = call_deadline()
    if deadline is not None:
        seconds = min(seconds, max(0.0, deadline - time.monotonic()))
    if seconds <= 0:
        return None
    if not call_suspendable():
        time.sleep(seconds)
        return None
    wait = _wait(what)
    handle = asyncio.get_running_loop().call_later(seconds, wait.set_result, None)
    wait.set_canceller(handle.cancel)
    return wait


def _settle_from(wait: HostWait, future: asyncio.Future[Any] | concurrent.futures.Future[Any]
                 ) -> None:
    if future.cancelled():
        wait.set_exception(asyncio.CancelledError(f"{wait.what} was cancelled"))
        return
    exc = future.exception()
    if exc is not None:
        wait.set_exception(exc)
    else:
        wait.set_result(future.result())


def _helper_loop() -> asyncio.AbstractEventLoop:
    """A loop on a daemon thread for coroutines of synchronous callers (their own thread may
    already run a loop that cannot turn while the guest blocks it)."""
    global _helper
    with _pool_lock:
        if _helper is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="airssys-host-async",
                             daemon=True).start()
            _helper = loop
        return _helper


def run_coroutine(coro: Coroutine[Any, Any, Any], what: str) -> Any:
    """Run ``coro`` for the calling guest: a HostWait for an asynchronous driver, the result
    itself (after blocking until it is there) for a synchronous one."""
    if not call_suspendable():
        future = asyncio.run_coroutine_threadsafe(coro, _helper_loop())
        deadline = call_deadline()
        try:
            return future.result(None if deadline is None
                                 else max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"{what} did not finish before the guest's deadline") from None
    task = asyncio.get_running_loop().create_task(coro)
    wait = _wait(what)
    task.add_done_callback(functools.partial(_settle_from, wait))
    wait.set_canceller(task.cancel)
    return wait


def coroutine_function(fn: Callable[..., Awaitable[Any]], what: str) -> Callable[..., Any]:
    """An ``async def`` host function as a suspending one (what ``define_interface`` registers)."""

    @functools.wraps(fn)
    def start(*args: Any) -> Any:
        return run_coroutine(fn(*args), what)  # type: ignore[arg-type]

    start.suspends = True  # type: ignore[attr-defined]
    return start


def _io_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(IO_WORKERS,
                                                          thread_name_prefix="airssys-io")
        return _pool


def _run_job(deadline: float | None, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    _worker.deadline = deadline
    try:
        return fn(*args)
    finally:
        _worker.deadline = None


def offload(fn: Callable[..., Any], *args: Any, what: str) -> Any:
    """Run the blocking ``fn(*args)`` for the calling guest: in the I/O pool while it is
    suspended (a HostWait), or inline for a synchronous caller (its result)."""
    if not call_suspendable():
        return fn(*args)
    wait = _wait(what)
    job = _io_pool().submit(_run_job, call_deadline(), fn, args)
    loop = asyncio.get_running_loop()

    def done(future: concurrent.futures.Future[Any]) -> None:  # in the worker thread
        if not loop.is_closed():
            loop.call_soon_threadsafe(_settle_from, wait, future)

    job.add_done_callback(done)
    wait.set_canceller(job.cancel)  # a job not yet started is dropped; a running one finishes
    return wait
