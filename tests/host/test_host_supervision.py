"""Components under supervision: traps, restarts with backoff, queued messages, one_for_all,
health-based restarts, graceful shutdown."""

from __future__ import annotations

import logging

import pytest
from host_helpers import MINIMAL, PINGPONG, PLAIN, POISON, events_of, eventually, u32

import airssys_wasm as aw
from airssys_wasm import Host, HostConfig
from airssys_wasm.actor import Backoff, DeadLetterReason, HealthCheck, RestartEvent

NO_JITTER = Backoff(initial=0.01, multiplier=2.0, max=1.0, jitter=0.0)


async def count(host: Host, name: str) -> int:
    return u32(await host.request(name, b"cnt?"))


async def test_poison_message_restarts_and_later_messages_reach_the_new_instance(host) -> None:
    ref = await host.spawn("pp", PINGPONG, backoff=NO_JITTER)
    for _ in range(4):
        await host.send("pp", PLAIN)
    await host.send("pp", POISON)
    for _ in range(7):
        await host.send("pp", PLAIN)
    # The 7 messages queued behind the poison one went to the fresh instance (state restarts at 0).
    assert await count(host, "pp") == 7
    [letter] = host.dead_letters
    assert letter.message == (host.config.host_id, POISON)
    assert letter.reason is DeadLetterReason.FAILED
    assert isinstance(letter.error, aw.TrapError) and letter.error.kind is aw.TrapKind.UNREACHABLE
    assert letter.error.component == "pp"
    stats = ref.stats
    assert (stats.restarts, stats.failures, stats.dead_letters) == (1, 1, 1)
    assert stats.messages_in == 13 and stats.messages_out == 12  # 11 messages + the request
    [restart] = events_of(host, RestartEvent)
    assert restart.actor == "pp" and restart.delay == pytest.approx(0.01)
    assert await host.request("pp", b"ini?") == b"\x01\x00\x00\x00"  # init ran again


async def test_restart_backoff_grows_per_attempt(engine) -> None:
    config = HostConfig(health=None, max_restarts=10, within=60.0)
    async with Host(config, engine=engine) as host:
        events: list = []
        host.add_listener(events.append)
        await host.spawn("pp", PINGPONG, backoff=NO_JITTER)
        for _ in range(3):
            await host.send("pp", POISON)
        await host.send("pp", PLAIN)
        assert await count(host, "pp") == 1
        delays = [e.delay for e in events if isinstance(e, RestartEvent)]
        assert delays == pytest.approx([0.01, 0.02, 0.04])


async def test_temporary_component_is_not_restarted_and_unregisters(host) -> None:
    await host.spawn("pp", PINGPONG, restart=aw.RestartPolicy.TEMPORARY)
    await host.send("pp", POISON)
    await eventually(lambda: "pp" not in host.names(), "the component to be removed")
    with pytest.raises(aw.ComponentNotFound):
        await host.send("pp", PLAIN)


async def test_one_for_all_restarts_the_siblings(host) -> None:
    group = await host.supervisor("group", strategy=aw.SupervisorStrategy.ONE_FOR_ALL)
    refs = [await host.spawn(name, PINGPONG, supervisor=group, backoff=NO_JITTER)
            for name in ("a", "b", "c")]
    for name in ("b", "c"):
        await host.send(name, PLAIN)
        assert await count(host, name) == 1
    await host.send("a", POISON)
    await eventually(lambda: all(r.stats.restarts == 1 for r in refs), "every sibling to restart")
    assert await count(host, "a") == 0
    assert await count(host, "b") == 0  # b and c count from 0 again: fresh instances
    assert await count(host, "c") == 0
    assert refs[2].stats.failures == 0  # c was restarted with a, it did not fail itself


async def test_supervisor_by_name_and_unknown_supervisor(host) -> None:
    await host.supervisor("workers")
    ref = await host.spawn("pp", PINGPONG, supervisor="workers")
    assert host.system.lookup("pp") is ref.actor
    with pytest.raises(aw.ComponentNotFound, match="no running supervisor"):
        await host.spawn("qq", PINGPONG, supervisor="nope")


async def test_unhealthy_answers_in_a_row_restart_the_component(host) -> None:
    check = HealthCheck(interval=0.01, timeout=0.5, threshold=2)
    ref = await host.spawn("pp", PINGPONG, health=check, backoff=NO_JITTER)
    await host.send("pp", PLAIN)
    assert await host.request("pp", b"sick") == b"ok"
    await eventually(lambda: ref.stats.restarts == 1, "the health-based restart")
    [restart] = events_of(host, RestartEvent)
    assert isinstance(restart.error, aw.HealthCheckFailed)
    assert await host.health("pp") is aw.HealthStatus.HEALTHY
    assert await count(host, "pp") == 0  # a fresh instance


async def test_component_without_health_export_is_healthy_while_it_answers(host) -> None:
    await host.spawn("min", MINIMAL)
    assert await host.health("min") is aw.HealthStatus.HEALTHY
    await host.stop("min")
    with pytest.raises(aw.ComponentNotFound):
        await host.health("min")


async def test_graceful_stop_handles_the_queue_then_calls_shutdown(host, caplog) -> None:
    await host.spawn("pp", PINGPONG)
    for _ in range(3):
        host.try_send("pp", PLAIN)
    with caplog.at_level(logging.INFO, logger="airssys_wasm.component"):
        await host.stop("pp")
    assert [r.getMessage() for r in caplog.records
            if r.name == "airssys_wasm.component"] == ["[pp] shutdown"]
    assert host.dead_letters == []  # the 3 queued messages were handled, not dropped
    assert "pp" not in host.names() and "pp" not in host.router
    with pytest.raises(aw.ComponentNotFound):
        await host.send("pp", PLAIN)
    await host.spawn("pp", PINGPONG)  # the name is free again
    assert await count(host, "pp") == 0


async def test_leaving_the_host_stops_every_component_gracefully(engine, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="airssys_wasm.component"):
        async with Host(HostConfig(health=None), engine=engine) as host:
            await host.spawn("a", PINGPONG)
            await host.spawn("b", PINGPONG)
            host.try_send("a", PLAIN)
    assert sorted(r.getMessage() for r in caplog.records if r.name == "airssys_wasm.component") \
        == ["[a] shutdown", "[b] shutdown"]
    with pytest.raises(aw.ActorStateError):
        await host.send("a", PLAIN)


async def test_a_trapping_health_probe_is_unhealthy_and_replaces_the_instance(host) -> None:
    ref = await host.spawn("pp", PINGPONG)
    await host.send("pp", PLAIN)
    assert await host.request("pp", b"hbad") == b"ok"
    assert await host.health("pp") is aw.HealthStatus.UNHEALTHY
    assert host.stats("pp").health_traps == 1
    # the messages behind the probe reach a fresh, initialised instance; nothing was dead-lettered
    await host.send("pp", PLAIN)
    assert await count(host, "pp") == 1
    assert await host.health("pp") is aw.HealthStatus.HEALTHY
    assert host.dead_letters == [] and ref.stats.failures == 0


async def test_root_restart_intensity_exceeded_stops_every_component(engine) -> None:
    config = HostConfig(health=None, max_restarts=1, within=60.0)
    async with Host(config, engine=engine) as host:
        await host.spawn("pp", PINGPONG, backoff=NO_JITTER)
        await host.spawn("other", PINGPONG)
        await host.send("pp", POISON)
        await host.send("pp", POISON)
        await eventually(lambda: host.names() == [], "the root supervisor to give up")
        assert len(host.router) == 0
        assert isinstance(host.system.escalation, aw.SupervisorEscalation)
        with pytest.raises(aw.ActorStateError, match="failed"):
            await host.spawn("pp", PINGPONG)
