# What a suspended guest waits for: a HostWait, completed by whoever does the host-side work.
#
# An async host function (one defined with ``suspends=True``) may return a HostWait instead of
# its result. The guest's fiber then suspends; wasmtime polls the C continuation, which tests
# the wait's ``ready`` flag and, once it is set, lowers the value into the guest's result slot.
# Nothing here knows about asyncio: the runtime/host layers create the wait, start the work
# (a timer, a task, a thread-pool job) and call ``set_result``/``set_exception``; the driver of
# the suspended call (the actor scheduler) learns about completion through ``add_done_callback``.

@cython.final
cdef class HostWait:
    """The pending result of an async host function (see :func:`define_host_func`).

    ``set_result(value)`` / ``set_exception(exc)`` complete it (once; later calls are ignored,
    so a late completion after a cancel is harmless). ``add_done_callback(fn)`` runs ``fn(wait)``
    on completion (at once if already complete); ``set_canceller(fn)`` registers how to stop the
    work when the guest call is cancelled (deadline, stop, restart). Complete it on the thread
    that drives the suspended call (the event loop); other threads hand over with
    ``loop.call_soon_threadsafe``.
    """

    cdef int ready                    # tested by the C continuation
    cdef object value
    cdef object error
    cdef list callbacks
    cdef object canceller
    # Filled in by the async trampoline when the guest suspends on this wait:
    cdef wasmtime_component_val_t *results
    cdef size_t nresults
    cdef object plan_owner            # the HostFunc whose plan lowers the value
    cdef public str what              # "host function 'sleep-millis'", for messages

    def __cinit__(self):
        self.callbacks = []

    def done(self):
        return self.ready != 0

    def set_result(self, value=None):
        """Complete the wait with ``value`` (the host function's result, lowered by its plan)."""
        self._settle(value, None)

    def set_exception(self, exc):
        """Fail the wait: the guest call is aborted (it traps; ``exc`` is the TrapError's cause)."""
        if not isinstance(exc, BaseException):
            raise TypeError(f"set_exception needs an exception, got {_tname(exc)}")
        self._settle(None, exc)

    cdef _settle(self, object value, object error):
        if self.ready:
            return
        self.value = value
        self.error = error
        self.ready = 1
        self.canceller = None
        callbacks, self.callbacks = self.callbacks, []
        for fn in callbacks:
            fn(self)

    def result(self):
        """The value, or raise the exception (only once done)."""
        if not self.ready:
            raise RuntimeError("the host wait is not complete yet")
        if self.error is not None:
            raise self.error
        return self.value

    def add_done_callback(self, fn):
        if self.ready:
            fn(self)
        else:
            self.callbacks.append(fn)

    def set_canceller(self, fn):
        """``fn()`` stops the work behind this wait; called at most once, on cancellation."""
        self.canceller = fn

    def cancel(self):
        """Stop the work (if still running) and drop the callbacks; the wait stays incomplete."""
        fn, self.canceller = self.canceller, None
        self.callbacks = []
        if fn is not None and not self.ready:
            fn()

    def __repr__(self):
        state = "pending" if not self.ready else ("failed" if self.error is not None else "done")
        return f"<HostWait {self.what or ''} {state}>"
