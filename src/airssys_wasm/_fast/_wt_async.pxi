# Suspendable calls: every guest call runs on a wasmtime fiber through the async C API.
#
# A call is started (``wasmtime_*_call_async``) and polled once with the GIL released. Most calls
# finish in that first poll: the future is deleted and the result converted inline, as a
# synchronous call would. A call that suspends -- its time slice ran out (epoch yield) or an
# async host function returned a HostWait -- comes back as a GuestCall. Its driver polls it
# again when it can continue: at once for a yield (after letting others run), after the wait
# completed otherwise. The driver never needs to know why: ``GuestCall.waiting`` says.
#
# Invariants (see the async findings note): one call future per Store; arguments, results and
# the trap/error out-slots live in the call's state object (the ComponentFunc / CoreFunc /
# instantiation) until the future is deleted; ``future_delete`` on a suspended call unwinds
# its fiber, which is how a call is cancelled; a Store is never closed under a live future
# (the runtime cancels first; if it happens anyway the future is leaked, never touched).

from functools import partial as _partial

cdef enum:
    _RUNNING = 0
    _DONE = 1
    _FAILED = 2


cdef class _CallState:
    """The buffers of one in-flight call and how to turn its outcome into a value.

    It owns the trap/error out-slots every async call has. As it is, it completes a call
    without a result value (raise its error, else None); subclasses lift their result after
    ``_raise_error`` and release their own buffers in ``_abandon``."""

    cdef str where
    cdef wasmtime_error_t *err
    cdef wasm_trap_t *trap

    cdef int _raise_error(self) except -1:
        """Raise (and consume) the call's trap/error as a TrapError, if it has one."""
        cdef wasmtime_error_t *err = self.err
        cdef wasm_trap_t *trap = self.trap
        self.err = NULL
        self.trap = NULL
        if trap != NULL or err != NULL:
            raise _trap_error(err, trap, self.where)
        return 0

    cdef object _complete(self):
        """After the future was deleted: the result, or raise the call's error."""
        self._raise_error()
        return None

    cdef void _abandon(self) noexcept:
        """After the future was deleted without finishing: release the buffers."""
        if self.err != NULL:
            api.wasmtime_error_delete(self.err)
            self.err = NULL
        if self.trap != NULL:
            api.wasm_trap_delete(self.trap)
            self.trap = NULL


cdef object _drive_first(_StoreRef ref, object store, _CallState state,
                         wasmtime_call_future_t *fut, bint suspendable):
    """Poll a just-started call once (the caller has ``begin``-entered ``ref``).

    Returns the converted result when the call finished, else the GuestCall (suspendable
    drivers) or the result after driving it to completion here (synchronous callers).
    """
    if _first_poll(ref, state, fut):
        return state._complete()
    return _suspended(ref, store, state, fut, suspendable)


cdef bint _first_poll(_StoreRef ref, _CallState state, wasmtime_call_future_t *fut) except -1:
    """Poll once; True (future deleted, Store free) when the call finished."""
    cdef c_bool done
    if fut == NULL:                       # never happens in v50; refuse rather than crash
        ref.leave()
        ref.end_call()
        state._abandon()
        raise AbiMismatchError("wasmtime returned no call future")
    with nogil:
        done = api.wasmtime_call_future_poll(fut)
    ref.leave()
    if done:
        api.wasmtime_call_future_delete(fut)
        ref.end_call()
    return done


cdef object _suspended(_StoreRef ref, object store, _CallState state,
                       wasmtime_call_future_t *fut, bint suspendable):
    """The GuestCall of a call whose first poll did not finish it (or its result, for a
    synchronous caller, after driving it here)."""
    cdef GuestCall call = GuestCall.__new__(GuestCall)
    call.state_obj = state
    call.ref = ref
    call.store = store
    call.future = fut
    call.deadline = ref.deadline
    call.timeout = ref.timeout
    call.status = _RUNNING
    call._check_wait()
    if suspendable:
        return call
    return call.wait()


cdef object _const(object value):
    return value


cdef object _reraise(object exc):
    raise exc


@cython.final
@cython.no_gc_clear   # __dealloc__ needs store/ref/state to unwind a dropped suspended call
cdef class GuestCall:
    """A guest call that suspended; poll it until it finishes, then ``finish()`` it.

    ``poll()`` resumes the guest (GIL released) and returns True once the call is over --
    finished, failed, past its deadline (TrapError kind ``timeout``) or cancelled. Past its
    deadline means still waiting for its host work then, or yielding/suspending again after a
    resume: a resume always runs first, so time the call sat queued for the host (a busy loop,
    other actors' turns) never traps a guest that finishes in its next slice.
    ``waiting`` is the HostWait the guest is suspended on, or None when it yielded because its
    time slice ran out (poll it again after others had their turn). ``finish()`` returns the
    result (or raises), passed through the functions added with ``then(fn)``: each gets a
    zero-argument callable that returns the previous outcome or raises it, and may itself
    return another GuestCall, which then carries the remaining functions (a multi-step call).
    ``cancel(reason)`` stops a suspended call: the fiber is unwound, the host work behind its
    wait is cancelled, and ``finish()`` raises :class:`~airssys_wasm.errors.CallCancelled`.
    ``wait()`` drives the call to the end from synchronous code.
    """

    cdef _CallState state_obj
    cdef _StoreRef ref
    cdef object store
    cdef wasmtime_call_future_t *future
    cdef readonly double deadline       # time.monotonic() deadline, 0.0 for none
    cdef double timeout
    cdef int status
    cdef object value
    cdef object error
    cdef list chain

    def __cinit__(self):
        # Made by ``_suspended``, which sets it running; one made any other way
        # (``GuestCall.__new__``) is a finished call with no outcome, never a NULL to follow.
        self.status = _FAILED
        self.chain = []

    @property
    def finished(self):
        return self.status != _RUNNING

    @property
    def waiting(self):
        """The HostWait the suspended guest waits for (None: runnable, or finished)."""
        return self.ref.wait if self.status == _RUNNING else None

    @property
    def where(self):
        return None if self.state_obj is None else self.state_obj.where

    def poll(self):
        """Resume the guest until it suspends again or ends; True once the call is over."""
        return self._poll()

    cdef bint _poll(self) except -1:
        cdef c_bool done
        cdef HostWait w
        if self.status != _RUNNING:
            return 1
        # The deadline is wall-clock from the call's start, but it ends only a guest that is
        # still using time past it: one still waiting for its host work (here), or one that
        # yields or suspends again after this resume (below). A call resumed late -- queued
        # behind other actors or a busy loop after its slice ran out or its wait completed --
        # always gets its slice first, so none traps because the host was slow to get to it.
        w = self.ref.wait
        if w is not None:
            if not w.ready:
                if self.deadline > 0.0 and _monotonic() >= self.deadline:
                    self._stop(self._timeout_error())
                    return 1
                return 0                   # nothing to do before the wait completes
            if w.error is not None:
                self._stop(self._host_failure(w))
                return 1
            self.ref.wait = None           # the continuation consumes it in this poll
        try:
            self.ref.enter(self.store)
        except ValueError as exc:          # the Store was closed under us: never touch the future
            self.future = NULL
            self.ref.end_call()
            self.state_obj._abandon()
            self.status = _FAILED
            self.error = exc
            return 1
        if self.ref.yields:
            # The epochs went on while the guest waited or sat queued for its turn: give it a
            # fresh slice, or it would yield again at once on the stale deadline (and a late
            # resume past the call's deadline would then end it without its slice).
            api.wasmtime_context_set_epoch_deadline(self.ref.ctx, self.ref.epoch_ticks)
        with nogil:
            done = api.wasmtime_call_future_poll(self.future)
        self.ref.leave()
        if done:
            self._settle()
            return 1
        if w is not None and w.error is not None:   # its value could not be lowered
            self._stop(self._host_failure(w))
            return 1
        if self.deadline > 0.0 and _monotonic() >= self.deadline:   # still going past it
            self._stop(self._timeout_error())
            return 1
        return 0

    cdef bint _check_wait(self) except -1:
        """A continuation that could not lower its value marks the wait failed: abort then."""
        cdef HostWait w = self.ref.wait
        if w is not None and w.ready and w.error is not None:
            self._stop(self._host_failure(w))
            return 1
        return 0

    cdef _settle(self):
        api.wasmtime_call_future_delete(self.future)
        self.future = NULL
        self.ref.end_call()
        try:
            self.value = self.state_obj._complete()
            self.status = _DONE
        except BaseException as exc:
            self.error = exc
            self.status = _FAILED

    cdef _stop(self, object error):
        """End a suspended call now: cancel its host work, unwind its fiber, keep ``error``."""
        cdef HostWait w = self.ref.wait
        if w is not None:
            w.results = NULL               # the slot dies with the future
            w.cancel()
        if self.future != NULL:
            if self.ref._is_open(self.store):
                api.wasmtime_call_future_delete(self.future)
            self.future = NULL
        self.ref.end_call()
        self.state_obj._abandon()
        self.status = _FAILED
        self.error = error

    cdef object _timeout_error(self):
        w = self.ref.wait
        doing = f"waiting for {w.what}" if w is not None else "computing"
        return TrapError(
            f"{self.state_obj.where} exceeded its {self.timeout * 1000:.0f} ms wall-clock "
            f"deadline ({doing}); the call was abandoned (kind timeout), instantiate a fresh "
            "Store before calling again", TrapKind.TIMEOUT)

    cdef object _host_failure(self, HostWait w):
        cause = w.error
        exc = TrapError(
            f"{self.state_obj.where}: async host function {w.what} failed with "
            f"{type(cause).__name__}: {cause}; the guest call was aborted and its Store is "
            "poisoned (instantiate a fresh one)", TrapKind.OTHER)
        exc.__cause__ = cause
        return exc

    def cancel(self, reason=None):
        """Stop the call if it is still suspended (True), with ``reason`` (text or exception)
        recorded in the CallCancelled that ``finish()`` then raises."""
        if self.status != _RUNNING:
            return False
        w = self.ref.wait
        doing = f"waiting for {w.what}" if w is not None else "between time slices"
        exc = CallCancelled(f"{self.state_obj.where} was cancelled while suspended ({doing})"
                            + (f": {reason}" if reason is not None else "")
                            + "; its Store is discarded")
        if isinstance(reason, BaseException):
            exc.__cause__ = reason
        self._stop(exc)
        return True

    def then(self, fn):
        """Add ``fn(get)`` to what ``finish()`` runs (see the class docstring); returns self."""
        self.chain.append(fn)
        return self

    def result(self):
        """The call's own outcome (without the ``then`` functions)."""
        if self.status == _RUNNING:
            raise RuntimeError(f"{self.state_obj.where} has not finished; poll it first")
        if self.status == _FAILED:
            if self.error is None:  # not made by a suspended call (see __cinit__)
                raise TypeError("this GuestCall never ran: GuestCall objects come from guest "
                                "calls that suspend, they cannot be made directly")
            raise self.error
        return self.value

    def finish(self):
        """The outcome passed through the ``then`` functions: a value, an exception, or the
        next GuestCall of a multi-step call (which carries the functions not yet run)."""
        cdef list chain = self.chain
        cdef Py_ssize_t i, n = len(chain)
        get = self.result
        if self.status == _DONE and type(self.value) is GuestCall:
            (<GuestCall>self.value).chain.extend(chain)
            return self.value
        for i in range(n):
            try:
                out = chain[i](get)
            except BaseException as exc:
                # The next function sees it as the outcome: a GuestError raised by one step
                # (an error answer) reaches the step that handles it, as a result would.
                get = _partial(_reraise, exc)
                continue
            if type(out) is GuestCall:
                (<GuestCall>out).chain.extend(chain[i + 1:])
                return out
            get = _partial(_const, out)
        return get()

    def wait(self):
        """Drive the call to its end from synchronous code and return ``finish()``.

        Time slices are resumed at once. A call suspended on an unfinished HostWait cannot be
        driven here (its completion needs the event loop this thread would block): RuntimeError.
        """
        cdef HostWait w
        while not self._poll():
            w = self.ref.wait
            if w is not None and not w.ready:
                raise RuntimeError(
                    f"{self.state_obj.where} waits for {w.what}, which completes on the event "
                    "loop; drive it from there (poll when the wait is done) or cancel it")
        out = self.finish()
        while type(out) is GuestCall:
            out = (<GuestCall>out).wait()
        return out

    def __dealloc__(self):
        # Dropped while suspended (nobody polls or cancels it): unwind the fiber now.
        if self.future != NULL and self.store is not None and self.ref is not None:
            if self.ref._is_open(self.store):
                api.wasmtime_call_future_delete(self.future)
            self.future = NULL
            self.ref.end_call()
            self.state_obj._abandon()

    def __repr__(self):
        state = ("running", "done", "failed")[self.status]
        return f"<GuestCall {self.where} {state}>"


# ---------------------------------------------------------------------------------------------
# Instantiation through the async C API (required once a Linker holds an async host function
# or a Store yields on epochs). Start functions may compute; instantiation is driven to the
# end synchronously here (time slices resume at once, the deadline still applies).

@cython.final
cdef class _Instantiation(_CallState):
    cdef wasmtime_component_instance_t cinst
    cdef wasmtime_instance_t minst
    cdef bint core

    cdef object _complete(self):
        cdef wasmtime_error_t *err = self.err
        if self.trap != NULL:             # start code trapped
            self._raise_error()
        self.err = NULL
        if err != NULL:                   # linking failed: not a trap
            raise wasmtime.WasmtimeError(_consume_error(err))
        if self.core:
            return _handles.core_instance_from_bytes(
                PyBytes_FromStringAndSize(<char *>&self.minst, sizeof(wasmtime_instance_t)))
        return _handles.component_instance_from_bytes(
            PyBytes_FromStringAndSize(<char *>&self.cinst, sizeof(wasmtime_component_instance_t)))


def instantiate_component(linker, store, component):
    """Instantiate a ``wasmtime.component.Component`` with a ``wasmtime.component.Linker``
    through the async C API; returns a ``wasmtime.component.Instance``. Link errors raise
    ``wasmtime.WasmtimeError``; a trap in start code raises TrapError."""
    cdef _StoreRef ref = _store_ref(store)
    cdef size_t linker_ptr = _handles.component_linker_address(linker)
    cdef size_t component_ptr = _handles.component_address(component)
    cdef _Instantiation state = _Instantiation.__new__(_Instantiation)
    cdef wasmtime_call_future_t *fut
    state.where = "component instantiation"
    ref.begin(store, 0)
    fut = api.wasmtime_component_linker_instantiate_async(
        <const wasmtime_component_linker_t *>linker_ptr, ref.ctx,
        <const wasmtime_component_t *>component_ptr, &state.cinst, &state.err)
    return _drive_first(ref, store, state, fut, 0)


def instantiate_module(linker, store, module):
    """Instantiate a core ``wasmtime.Module`` with a ``wasmtime.Linker`` through the async C
    API; returns a ``wasmtime.Instance``."""
    cdef _StoreRef ref = _store_ref(store)
    cdef size_t linker_ptr = _handles.linker_address(linker)
    cdef size_t module_ptr = _handles.module_address(module)
    cdef _Instantiation state = _Instantiation.__new__(_Instantiation)
    cdef wasmtime_call_future_t *fut
    state.where = "module instantiation"
    state.core = 1
    ref.begin(store, 0)
    fut = api.wasmtime_linker_instantiate_async(
        <const wasmtime_linker_t *>linker_ptr, ref.ctx, <const wasmtime_module_t *>module_ptr,
        &state.minst, &state.trap, &state.err)
    return _drive_first(ref, store, state, fut, 0)


# The restart path: instantiate and reach the exports without a wasmtime-py object per
# Store. A restart makes a Store, instantiates, looks up the lifecycle functions and closes;
# wrapping each handle in wasmtime-py objects (ctypes structs, Managed finalizers) costs more
# than wasmtime's own instantiation, so the handles stay raw here.

cdef object _RAW_FUNC = object()          # ComponentFunc(store, _RAW_FUNC, ...): handle filled here


@cython.final
cdef class ExportTable:
    """The export indices of one component, resolved to raw addresses once (per artifact).

    ``ExportTable(component, {"handle-message": index, ...}, linker=None)``: ``index`` values
    are the ``wasmtime.component.ExportIndex`` objects of ``component`` (kept alive here, which
    keeps the addresses valid); ``linker``, when given, is the Linker instances will be made
    with, its address resolved once too. :meth:`ComponentExports.func` looks functions up by name in it.
    """

    cdef object component                 # keeps the component (and its indices) alive
    cdef size_t component_ptr
    cdef dict indices                     # name -> ExportIndex
    cdef dict addresses                   # name -> address of its export index
    cdef object linker                    # the Linker instances are made with (or None)
    cdef size_t linker_ptr

    def __cinit__(self, component, dict indices, linker=None):
        if linker is not None:            # resolved once: instantiate_exports skips ctypes
            self.linker_ptr = _handles.component_linker_address(linker)
            self.linker = linker
        self.component_ptr = _handles.component_address(component)
        self.component = component
        self.indices = dict(indices)
        self.addresses = {name: _handles.export_index_address(index)
                          for name, index in self.indices.items()}

    def __contains__(self, name):
        return name in self.addresses

    def __len__(self):
        return len(self.addresses)


@cython.final
cdef class ComponentExports:
    """A component instance made by :func:`instantiate_exports`: its raw handle, and the
    lookup of its exported functions straight into :class:`ComponentFunc` objects."""

    cdef wasmtime_component_instance_t inst
    cdef _StoreRef ref
    cdef object store
    cdef ExportTable table

    def func(self, str name, FuncPlan plan=None):
        """The :class:`ComponentFunc` of export ``name`` (one of the table's). With ``plan``
        (compiled for another instance of the same component) the handle goes straight from
        the C API into the ComponentFunc; without, the function's type is read through
        wasmtime-py once to compile the plan. LookupError for a name the table lacks or an
        export that is not a function."""
        cdef wasmtime_component_func_t f
        cdef c_bool found
        cdef ComponentFunc call
        address = self.table.addresses.get(name)
        if address is None:
            raise LookupError(f"no export {name!r} in this instance's export table; it has "
                              + ", ".join(sorted(self.table.addresses)))
        self.ref._check_open(self.store)
        if plan is None:
            func = self.instance().get_func(_py_store(self.store), self.table.indices[name])
            if func is None:
                raise LookupError(f"export {name!r} of the component instance is not a function")
            return ComponentFunc(self.store, func, name, None)
        found = api.wasmtime_component_instance_get_func(
            &self.inst, self.ref.ctx, <const wasmtime_component_export_index_t *><size_t>address, &f)
        if not found:
            raise LookupError(f"export {name!r} of the component instance is not a function")
        _check_owner(self.ref, f.anon.store_id, f"component function {name!r}")
        call = ComponentFunc.__new__(ComponentFunc, self.store, _RAW_FUNC, name, plan)
        call.func = f
        return call

    def instance(self):
        """The same instance as a ``wasmtime.component.Instance`` (for wasmtime-py APIs)."""
        return _handles.component_instance_from_bytes(
            PyBytes_FromStringAndSize(<char *>&self.inst, sizeof(wasmtime_component_instance_t)))

    @property
    def store_id(self):
        """The id of the Store the instance lives in (what wasmtime stamps into its handles)."""
        return self.inst.store_id


@cython.final
cdef class _ExportsInstantiation(_CallState):
    cdef ComponentExports out

    cdef object _complete(self):
        cdef wasmtime_error_t *err = self.err
        if self.trap != NULL:
            self._raise_error()
        self.err = NULL
        if err != NULL:
            raise wasmtime.WasmtimeError(_consume_error(err))
        _learn_store_id(self.out.ref, self.out.inst.store_id)
        return self.out


def instantiate_exports(linker, store, ExportTable table):
    """Instantiate ``table``'s component with a ``wasmtime.component.Linker`` through the async
    C API, as :func:`instantiate_component` does, but return a :class:`ComponentExports` (the
    raw instance) instead of a wasmtime-py Instance: the restart path."""
    cdef _StoreRef ref = _store_ref(store)
    cdef size_t linker_ptr = table.linker_ptr if linker is table.linker and linker is not None \
        else _handles.component_linker_address(linker)
    cdef _ExportsInstantiation state = _ExportsInstantiation.__new__(_ExportsInstantiation)
    cdef ComponentExports out = ComponentExports.__new__(ComponentExports)
    cdef wasmtime_call_future_t *fut
    out.ref = ref
    out.store = store
    out.table = table
    state.out = out
    state.where = "component instantiation"
    ref.begin(store, 0)
    fut = api.wasmtime_component_linker_instantiate_async(
        <const wasmtime_component_linker_t *>linker_ptr, ref.ctx,
        <const wasmtime_component_t *>table.component_ptr, &out.inst, &state.err)
    return _drive_first(ref, store, state, fut, 0)


@cython.final
cdef class InstancePre:
    """A core module pre-linked with a ``wasmtime.Linker`` (``wasmtime_instance_pre_t``): the
    imports are resolved once, so each instantiation skips the linker's name lookups and type
    checks. The component model has no counterpart in the v50 C API."""

    cdef wasmtime_instance_pre_t *pre
    cdef object module                    # keeps the module alive (the pre refers to it)
    cdef object linker

    def __cinit__(self, linker, module):
        cdef size_t linker_ptr = _handles.linker_address(linker)
        cdef size_t module_ptr = _handles.module_address(module)
        cdef wasmtime_error_t *err
        err = api.wasmtime_linker_instantiate_pre(<const wasmtime_linker_t *>linker_ptr,
                                                  <const wasmtime_module_t *>module_ptr, &self.pre)
        if err != NULL:
            self.pre = NULL
            raise wasmtime.WasmtimeError(_consume_error(err))
        if self.pre == NULL:
            raise AbiMismatchError("wasmtime_linker_instantiate_pre returned no instance-pre")
        self.module = module
        self.linker = linker

    def __dealloc__(self):
        if self.pre != NULL:
            api.wasmtime_instance_pre_delete(self.pre)
            self.pre = NULL

    def instantiate(self, store):
        """Instantiate in ``store`` through the async C API; returns a ``wasmtime.Instance``
        (link errors raise ``wasmtime.WasmtimeError``, a trapping start function TrapError)."""
        cdef _StoreRef ref = _store_ref(store)
        cdef _Instantiation state = _Instantiation.__new__(_Instantiation)
        cdef wasmtime_call_future_t *fut
        state.where = "module instantiation"
        state.core = 1
        ref.begin(store, 0)
        fut = api.wasmtime_instance_pre_instantiate_async(
            self.pre, ref.ctx, &state.minst, &state.trap, &state.err)
        return _drive_first(ref, store, state, fut, 0)

    def instantiate_lane(self, store):
        """Instantiate in ``store`` and return the instance's :class:`CoreLane` (its
        ``instance()`` gives the ``wasmtime.Instance`` for other exports): the restart path of
        core-ABI actors, with memory, alloc and handle fetched in C."""
        cdef _StoreRef ref = _store_ref(store)
        cdef _LaneInstantiation state = _LaneInstantiation.__new__(_LaneInstantiation)
        cdef wasmtime_call_future_t *fut
        state.where = "module instantiation"
        state.ref = ref
        state.store = store
        ref.begin(store, 0)
        fut = api.wasmtime_instance_pre_instantiate_async(
            self.pre, ref.ctx, &state.minst, &state.trap, &state.err)
        return _drive_first(ref, store, state, fut, 0)


# ---------------------------------------------------------------------------------------------
# The epoch ticker: a C thread (a Python thread would starve while a poll holds the GIL, and
# costs a GIL round trip per tick). It holds the wasmtime.Engine alive while it runs.

cdef extern from *:
    """
    #include <pthread.h>
    #include <time.h>
    #include <errno.h>
    typedef struct aw_ticker {
        pthread_t thread;
        int started;
        int stop;
        long period_ns;
        void (*inc)(void *);
        void *engine;
    } aw_ticker;

    static void *aw_ticker_main(void *arg) {
        aw_ticker *t = (aw_ticker *)arg;
        struct timespec next, now;
    #ifdef __linux__
        pthread_setname_np(pthread_self(), "airssys-epoch");
    #endif
        clock_gettime(CLOCK_MONOTONIC, &next);
        while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
            next.tv_nsec += t->period_ns;
            while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec += 1; }
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {}
            if (__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) break;
            t->inc(t->engine);
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > next.tv_sec + 1) next = now;   /* the process was stopped: no burst */
        }
        return NULL;
    }

    static int aw_ticker_start(aw_ticker *t) {
        int rc;
        __atomic_store_n(&t->stop, 0, __ATOMIC_RELEASE);
        rc = pthread_create(&t->thread, NULL, aw_ticker_main, t);
        t->started = (rc == 0);
        return rc;
    }

    static void aw_ticker_stop(aw_ticker *t) {
        if (!t->started) return;
        __atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
        pthread_join(t->thread, NULL);
        t->started = 0;
    }
    """
    ctypedef struct aw_ticker:
        int started
        long period_ns
        void (*inc)(void *) noexcept nogil
        void *engine
    int aw_ticker_start(aw_ticker *t) nogil
    void aw_ticker_stop(aw_ticker *t) nogil


@cython.final
@cython.no_gc   # never cleared by the GC: the engine must outlive the thread that ticks it
cdef class EpochTicker:
    """Increments a ``wasmtime.Engine``'s epoch every ``period_us`` microseconds on a C thread.

    ``start()`` is idempotent; ``stop()`` joins the thread (within one period). Dropping the
    ticker stops it. The engine is kept alive while the ticker exists.
    """

    cdef aw_ticker t
    cdef object engine
    cdef readonly long period_us

    def __cinit__(self, engine, long period_us):
        if period_us < 20 or period_us > 10_000_000:
            raise ValueError(f"the epoch period must be 20 us .. 10 s, got {period_us} us")
        self.engine = engine
        self.period_us = period_us
        self.t.period_ns = period_us * 1000
        self.t.inc = <void (*)(void *) noexcept nogil>api.wasmtime_engine_increment_epoch
        self.t.engine = <void *><size_t>_handles.engine_address(engine)

    @property
    def running(self):
        return self.t.started != 0

    def start(self):
        cdef int rc
        if self.t.started:
            return
        rc = aw_ticker_start(&self.t)
        if rc != 0:
            raise OSError(rc, "cannot start the epoch ticker thread")

    def stop(self):
        with nogil:
            aw_ticker_stop(&self.t)

    def __dealloc__(self):
        with nogil:
            aw_ticker_stop(&self.t)
