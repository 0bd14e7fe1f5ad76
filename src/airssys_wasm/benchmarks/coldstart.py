"""Big guests: cached cold load in a fresh process, spawn, unique memory per actor and the cost
of a message, a componentize-py (CPython in wasm, ~18 MB) guest next to the WAT guests.

The Python guest is not shipped (building it takes componentize-py and ~15-50 s): the suite
takes it from ``$AIRSSYS_WASM_PY_GUEST`` (default ``~/.cache/airssys-wasm-bench/py-guest.wasm``)
and, when it is missing, prints how to build it (``python -m airssys_wasm.benchmarks.coldstart
build``) and measures the WAT rows only. Its compile cache lives next to it, so only the first
run compiles the guest.

* **cached cold load**: ``Engine.load`` of an already compiled file in a new interpreter (what
  a restarted service pays), timed inside that process; next to it the floor, wasmtime's bare
  ``Component.deserialize_file`` of the same artifact in a new interpreter;
* **spawn**: ``Host.spawn`` of an already loaded guest, ``N`` actors in one host;
* **unique memory per actor**: growth of ``Private_Dirty`` in ``/proc/self/smaps_rollup`` over
  those ``N`` actors, each having handled a message, divided by ``N`` (the clean pages of the
  compiled image are shared copy-on-write by every actor, so they are not unique);
* **per message**: ``Host.send`` of a 16-byte frame until the guest handled it, Python guest
  vs the WAT ``minimal`` guest, and ``Instance.handle_message`` without the host.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from airssys_wasm.benchmarks import guests
from airssys_wasm.benchmarks.timing import Comparison
from airssys_wasm.host import Host, HostConfig
from airssys_wasm.runtime import Engine, EngineConfig, PoolingConfig
from airssys_wasm.runtime.cache import ArtifactCache
from airssys_wasm.runtime.wit import wit_dir

__all__ = ["GUEST_ENV", "GUEST_SOURCE", "TITLE", "build_guest", "guest_path", "run"]

TITLE = "Cold start: cached load, spawn, memory per actor, per message (Python vs WAT guests)"

#: Environment variable naming the componentize-py guest the suite measures.
GUEST_ENV = "AIRSSYS_WASM_PY_GUEST"
FRAME = b"\x55" + b"x" * 15  # a 16-byte raw frame
LOAD_BUDGET_NS = 10e6
SPAWN_BUDGET_NS = 2e6
RSS_BUDGET = 2 * 1024 * 1024
MESSAGE_BUDGET_NS = 5e3

#: The guest: every export of the full ``airssys-component`` world, each as small as it gets,
#: so the figures are the cost of a Python guest itself, not of its work.
GUEST_SOURCE = '''\
from wit_world import exports
from wit_world.imports import host_services, types


class ComponentLifecycle(exports.ComponentLifecycle):
    def init(self, config):
        return None

    def execute(self, operation, context):
        return operation

    def handle_message(self, sender, message):
        if message[1:2] == b"!":
            host_services.send_message(sender, message)

    def handle_callback(self, id, outcome):
        return None

    def metadata(self):
        return types.ComponentMetadata("py-bench", "1.0.0", "benchmark guest", ["echo"])

    def health(self):
        return types.HealthStatus.HEALTHY

    def shutdown(self):
        return None
'''


def guest_path() -> Path:
    """Where the Python guest is (or is to be built): ``$AIRSSYS_WASM_PY_GUEST`` or the default."""
    configured = os.environ.get(GUEST_ENV)
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "airssys-wasm-bench" / "py-guest.wasm"


def build_guest(out: Path) -> Path:
    """Build the benchmark's Python guest at ``out`` with componentize-py against the shipped
    WIT (world ``airssys-component``). RuntimeError when componentize-py is missing or fails."""
    exe = shutil.which("componentize-py")
    if exe is None:
        raise RuntimeError("componentize-py is not installed: pip install componentize-py==0.25.1")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "app.py").write_text(GUEST_SOURCE)
        done = subprocess.run([exe, "-d", str(wit_dir()), "-w", "airssys-component", "componentize",
                               "app", "-o", str(out)], cwd=tmp, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"componentize-py failed ({done.returncode}): {done.stderr.strip()}")
    return out


_LOAD = """
import json, sys, time
mode, cache, source = sys.argv[1:4]
if mode == "ours":
    from airssys_wasm.runtime import Engine, EngineConfig, PoolingConfig
    engine = Engine(EngineConfig(cache_dir=cache))
    start = time.perf_counter_ns()
    engine.load(source)
    took = time.perf_counter_ns() - start
    stats = engine.cache.stats
    print(json.dumps({"ns": took, "indexed": stats.indexed, "hits": stats.hits}))
else:
    import wasmtime
    from wasmtime import component as wc
    from airssys_wasm.runtime import EngineConfig
    engine = wasmtime.Engine(EngineConfig().to_wasmtime())
    start = time.perf_counter_ns()
    wc.Component.deserialize_file(engine, source)
    print(json.dumps({"ns": time.perf_counter_ns() - start}))
"""


def _fresh_process(mode: str, cache: Path, source: Path) -> dict[str, int]:
    done = subprocess.run([sys.executable, "-c", _LOAD, mode, str(cache), str(source)],
                          capture_output=True, text=True, check=True)
    result: dict[str, int] = json.loads(done.stdout.splitlines()[-1])
    return result


def cold_load_ns(source: Path, cache: Path, runs: int) -> tuple[float, float]:
    """Median ns of (our cached load, bare deserialize_file of its artifact), each in a fresh
    interpreter. Compiles into ``cache`` first if needed and waits until the source and the
    artifact are old enough for their identities to be recorded (``ArtifactCache.racy_window_ns``):
    a load of files changed within the last two seconds reads and hashes them, by design."""
    engine = Engine(EngineConfig(cache_dir=cache))
    try:
        artifact = engine.load(source)
        assert engine.cache is not None
        payload, _ = engine.cache.paths("component" if artifact.kind == "component" else "core",
                                        artifact.digest)
    finally:
        engine.close()
    newest = max(max(st.st_mtime_ns, st.st_ctime_ns) for st in (source.stat(), payload.stat()))
    age = time.time_ns() - newest
    if age < ArtifactCache.racy_window_ns:
        time.sleep((ArtifactCache.racy_window_ns - age) / 1e9 + 0.05)
    _fresh_process("ours", cache, source)  # records the source index and the payload identity
    ours = [_fresh_process("ours", cache, source) for _ in range(runs)]
    if not all(o["indexed"] == 1 and o["hits"] == 1 for o in ours):
        raise RuntimeError(f"the cached load of {source} did not use the source index: {ours}")
    floor = [_fresh_process("bare", cache, payload)["ns"] for _ in range(runs)] \
        if artifact.kind == "component" else [float("nan")]
    return statistics.median(o["ns"] for o in ours), statistics.median(floor)


def _private_bytes() -> int:
    """``Private_Dirty`` of the process: pages only it has written (an actor's stacks, heap and
    the copy-on-write copies of image pages it wrote). Clean pages are the compiled image in the
    page cache, shared by every actor (``Private_Clean`` even *drops* when a second actor maps
    a page the first one had alone), so they are not counted."""
    with open("/proc/self/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Private_Dirty:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/smaps_rollup has no Private_Dirty line")


async def _spawn_and_send(engine: Engine, source: Path, actors: int, messages: int
                          ) -> tuple[float, float, float]:
    """(ns per spawn, unique bytes per actor, ns per Host.send message) for ``source``."""
    async with Host(HostConfig(health=None), engine=engine) as host:
        host.load(source)
        first = await host.spawn("warm", source)  # pools, plans and imports made once
        await host.send("warm", FRAME)
        while first.stats.messages_out < 1:
            await asyncio.sleep(0)
        before = _private_bytes()
        start = time.perf_counter_ns()
        refs = [await host.spawn(f"a{i}", source) for i in range(actors)]
        spawn_ns = (time.perf_counter_ns() - start) / actors
        for i in range(actors):
            await host.send(f"a{i}", FRAME)
        while any(r.stats.messages_out < 1 for r in refs):
            await asyncio.sleep(0)
        unique = (_private_bytes() - before) / actors
        send = host.send
        start = time.perf_counter_ns()
        for _ in range(messages):
            await send("warm", FRAME)
        while first.stats.messages_out < messages + 1:
            await asyncio.sleep(0)
        return spawn_ns, unique, (time.perf_counter_ns() - start) / messages


def _instance_ns(engine: Engine, source: Path, n: int) -> float:
    instance = engine.load(source).instantiate()
    sender = HostConfig().host_id
    for _ in range(100):
        instance.handle_message(sender, FRAME)
    start = time.perf_counter_ns()
    for _ in range(n):
        instance.handle_message(sender, FRAME)
    elapsed = time.perf_counter_ns() - start
    instance.close()
    return elapsed / n


def _measure(engine: Engine, source: Path, actors: int, messages: int, repeat: int
             ) -> tuple[float, float, float, float]:
    runs = [asyncio.run(_spawn_and_send(engine, source, actors, messages)) for _ in range(repeat)]
    spawn, unique, send = (statistics.median(r[i] for r in runs) for i in range(3))
    return spawn, unique, send, min(_instance_ns(engine, source, messages) for _ in range(repeat))


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    """``min_seconds`` below 0.1 selects fewer processes, actors and messages (quick mode)."""
    quick = min_seconds < 0.1
    runs, actors, messages = (3, 10, 2000) if quick else (9, 50, 20000)
    repeat = max(1, min(repeat, 3))
    wat = guests.path("minimal")
    py = guest_path()
    rows: list[Comparison] = []
    with tempfile.TemporaryDirectory() as tmp:
        wat_copy = Path(tmp, "minimal.wat")
        wat_copy.write_bytes(wat.read_bytes())
        wat_load, _ = cold_load_ns(wat_copy, Path(tmp, "cache"), runs)
    if py.is_file():
        py_load, floor = cold_load_ns(py, py.with_name(py.name + ".cache"), runs)
        size = py.stat().st_size / 1e6
        rows += [
            Comparison(f"cached cold load, fresh process: Python guest ({size:.0f} MB)", py_load,
                       "budget 10 ms", LOAD_BUDGET_NS, target=True),
            Comparison("  same, vs bare wasmtime deserialize_file (the floor)", py_load,
                       "Component.deserialize_file", floor),
        ]
    else:
        print(f"coldstart: no Python guest at {py}: build it with `python -m "
              f"airssys_wasm.benchmarks.coldstart build` (needs componentize-py==0.25.1; "
              f"${GUEST_ENV} chooses the path); measuring the WAT guest only", file=sys.stderr)
    rows.append(Comparison("cached cold load, fresh process: WAT minimal", wat_load, "-", None))
    with Engine() as engine:
        w_spawn, w_rss, w_send, w_inst = _measure(engine, wat, actors, messages, repeat)
    if not py.is_file():
        return rows + [
            Comparison(f"spawn a WAT guest ({actors} in one host)", w_spawn, "-", None),
            Comparison("unique memory per WAT actor", w_rss, "-", None, unit="bytes"),
            Comparison("Host.send 16 B -> WAT guest", w_send, "-", None),
            Comparison("Instance.handle_message 16 B, WAT guest (no host)", w_inst, "-", None),
        ]
    # As a service runs a big guest: from the compile cache (compiled once, above).
    cache = py.with_name(py.name + ".cache")
    with Engine(EngineConfig(cache_dir=cache)) as engine:
        p_spawn, p_rss, p_send, p_inst = _measure(engine, py, actors, messages, repeat)
    with Engine(EngineConfig(cache_dir=cache, pooling=PoolingConfig())) as engine:
        pool_spawn, pool_rss, _ = asyncio.run(_spawn_and_send(engine, py, actors, 10))
    return rows + [
        Comparison(f"spawn a Python guest ({actors} in one host)", p_spawn, "budget 2 ms",
                   SPAWN_BUDGET_NS, target=True),
        Comparison("  same, vs a WAT guest", p_spawn, "WAT minimal", w_spawn),
        Comparison("  same, vs the pooling allocator", p_spawn, "EngineConfig(pooling=...)",
                   pool_spawn),
        Comparison("unique memory per Python-guest actor", p_rss, "budget 2 MiB",
                   RSS_BUDGET, target=True, unit="bytes"),
        Comparison("  same, vs a WAT actor", p_rss, "WAT minimal", w_rss, unit="bytes"),
        Comparison("  same, vs the pooling allocator", p_rss, "EngineConfig(pooling=...)",
                   pool_rss, unit="bytes"),
        Comparison("Host.send 16 B -> Python guest", p_send, "budget 5 µs",
                   MESSAGE_BUDGET_NS, target=True),
        Comparison("  same, vs the WAT guest", p_send, "WAT minimal", w_send),
        Comparison("Instance.handle_message 16 B, Python guest (no host)", p_inst,
                   "WAT minimal", w_inst),
    ]


def main(argv: list[str]) -> int:
    """``python -m airssys_wasm.benchmarks.coldstart build [OUT]``: build the Python guest."""
    if not argv or argv[0] != "build" or len(argv) > 2:
        print("usage: python -m airssys_wasm.benchmarks.coldstart build [OUT.wasm]", file=sys.stderr)
        return 2
    out = Path(argv[1]) if len(argv) == 2 else guest_path()
    try:
        build_guest(out)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"built {out} ({out.stat().st_size:,} bytes); run `airssys-wasm bench --suite coldstart`"
          + ("" if out == guest_path() else f" with {GUEST_ENV}={out}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
