"""What a spawned component costs the garbage collector: the objects it keeps alive.

Every full GC pass walks every tracked object, so a host of thousands of components pays for
each object a component keeps on every pass (issue 17: over 10,000 spawns the full passes were
a fifth of the time). Counted exactly with ``gc.get_objects``: no timing.
"""

from __future__ import annotations

import asyncio
import gc

from airssys_wasm import Host, HostConfig
from airssys_wasm.benchmarks import guests
from airssys_wasm.runtime import Engine

#: Tracked objects an idle spawned ``echo`` keeps (26 when written, and again once the send gate
#: came and the ring's deque of waiting senders went: the actor cell, mailbox and ring, the
#: instance with its Store handle and handle-message callable, the registry entry, grant and
#: its send gate, route, ref, spec...). One of slack for an interpreter that tracks one more.
_BUDGET = 27


async def test_an_idle_spawned_component_keeps_at_most_its_budget_of_tracked_objects(
        engine: Engine) -> None:
    echo = guests.path("echo")
    count = 50
    async with Host(HostConfig(health=None), engine=engine) as host:
        await host.spawn("warm", echo)  # links the imports, compiles the plans: once per host
        await asyncio.sleep(0)
        gc.collect()
        before = len(gc.get_objects())
        for i in range(count):
            await host.spawn(f"c{i}", echo)
        await asyncio.sleep(0)
        gc.collect()
        per_component = (len(gc.get_objects()) - before) / count
        assert per_component <= _BUDGET, f"{per_component:.1f} tracked objects per component"
        # The components are alive and described (what the objects are kept for).
        assert len(host.names()) == count + 1
        assert host.registry.get("c0").metadata == host.registry.get(f"c{count - 1}").metadata
