# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, embedsignature=True
"""Handle-latency histogram of one actor, updated once per drained batch, in C.

Timing every message would put two clock reads and a bucket search on the message path; an
actor handles a whole batch per wake-up, so the batch is timed instead: ``start()`` before the
handlers run, ``stop(n)`` after ``n`` messages were handled. The ``n`` messages are counted
in the bucket of the batch's mean time per message and the batch's duration is added to the
sum, so ``sum`` and ``count`` are exact and the buckets are exact for batches of one message
(what a lightly loaded actor sees) and a per-batch average under load. A batch that fails
part-way records the messages handled before the failure (with the failing call's time), so
``count`` equals the actor's handled count. Both calls are C: a clock read and a few
comparisons, no Python object per batch.

Bucket bounds are fixed at construction (upper bounds in seconds, strictly increasing); the
implicit last bucket is +Inf. Nothing here is thread-safe beyond what the GIL gives: one
actor's loop updates it, a scrape on the same loop reads it.
"""

from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free
from libc.math cimport isnan

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    cdef struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clk_id, timespec *tp)
    int CLOCK_MONOTONIC

# Default upper bounds (seconds): a guest call takes microseconds when it stays in wasm and up
# to its timeout (default 1 s) when it suspends on I/O; 5 us .. 10 s covers both ends.
DEFAULT_BOUNDS = (0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                  0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

DEF _MAX_BOUNDS = 64
DEF _N_DEFAULT = 20

# The default bounds as C doubles, filled once at import: every actor's histogram points at
# them instead of re-validating a Python list of them and copying it into its own allocation
# (one per spawn, ~13 k instructions). Never freed; never written after import.
cdef double _DEFAULT_C[_N_DEFAULT]
assert len(DEFAULT_BOUNDS) == _N_DEFAULT
for _i in range(_N_DEFAULT):
    _DEFAULT_C[_i] = DEFAULT_BOUNDS[_i]
del _i


cdef inline double _now() noexcept nogil:
    cdef timespec ts
    if clock_gettime(CLOCK_MONOTONIC, &ts) != 0:
        return 0.0
    return <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9


cdef class LatencyHistogram:
    """Counts of handled messages per latency bucket, plus their total time and number."""

    cdef double *_bounds  # _DEFAULT_C (shared, not owned) or an own allocation
    cdef uint64_t *_counts  # one per bound plus the +Inf bucket (not cumulative)
    cdef Py_ssize_t _n
    cdef double _started
    cdef readonly double sum
    cdef readonly unsigned long long count

    def __cinit__(self, bounds=DEFAULT_BOUNDS):
        cdef Py_ssize_t i
        cdef double previous = 0.0
        if bounds is DEFAULT_BOUNDS:  # the module's own tuple: validated at import, shared
            self._n = _N_DEFAULT
            self._bounds = _DEFAULT_C
            self._counts = <uint64_t *>calloc(_N_DEFAULT + 1, sizeof(uint64_t))
            if self._counts is NULL:
                raise MemoryError()
            self._started = -1.0
            self.sum = 0.0
            self.count = 0
            return
        values = [float(b) for b in bounds]
        if not values or len(values) > _MAX_BOUNDS:
            raise ValueError(f"a histogram needs 1 to {_MAX_BOUNDS} bucket bounds, got {len(values)}")
        for i, value in enumerate(values):
            if isnan(value) or value <= previous or value == float("inf"):
                raise ValueError(f"bucket bounds must be finite, positive and strictly increasing; "
                                 f"bound {i} is {value!r} after {previous!r}")
            previous = value
        self._n = len(values)
        self._bounds = <double *>calloc(self._n, sizeof(double))
        self._counts = <uint64_t *>calloc(self._n + 1, sizeof(uint64_t))
        if self._bounds is NULL or self._counts is NULL:
            raise MemoryError()
        for i in range(self._n):
            self._bounds[i] = values[i]
        self._started = -1.0
        self.sum = 0.0
        self.count = 0

    def __dealloc__(self):
        if self._bounds is not _DEFAULT_C:
            free(self._bounds)
        free(self._counts)

    @property
    def bounds(self):
        """The finite upper bounds, in seconds (the +Inf bucket is implicit)."""
        return tuple(self._bounds[i] for i in range(self._n))

    cpdef void start(self):
        """Mark the start of a batch (a clock read)."""
        self._started = _now()

    cpdef void stop(self, Py_ssize_t n):
        """``n`` messages of the batch started by ``start()`` were handled: record them.

        Without a matching ``start()`` (or with ``n < 1``) nothing is recorded, so a failed
        batch that never reached ``stop`` cannot leave a stale start behind for the next one.
        """
        cdef double started = self._started
        self._started = -1.0
        if started < 0.0 or n < 1:
            return
        cdef double elapsed = _now() - started
        if elapsed < 0.0:
            elapsed = 0.0
        self._record(elapsed, n)

    cdef inline void _record(self, double elapsed, Py_ssize_t n):
        cdef double mean = elapsed / n
        cdef Py_ssize_t i = 0
        while i < self._n and mean > self._bounds[i]:
            i += 1
        self._counts[i] += <uint64_t>n
        self.sum += elapsed
        self.count += <unsigned long long>n

    def observe(self, double seconds, Py_ssize_t n=1):
        """Record ``n`` messages that took ``seconds`` together (the batch path, without the
        clock: for tests and for callers that timed the work themselves)."""
        if isnan(seconds) or seconds < 0.0:
            raise ValueError(f"seconds must be a non-negative number, got {seconds!r}")
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self._record(seconds, n)

    def buckets(self):
        """Cumulative counts per bound, the last one for +Inf (Prometheus ``le`` semantics)."""
        cdef Py_ssize_t i
        cdef unsigned long long total = 0
        out = []
        for i in range(self._n + 1):
            total += self._counts[i]
            out.append(total)
        return out

    def __repr__(self):
        return f"<LatencyHistogram count={self.count} sum={self.sum:.6f}s>"
