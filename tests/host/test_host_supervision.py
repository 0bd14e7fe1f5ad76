"""Components under supervision: traps, restarts with backoff, queued messages, one_for_all,
health-based restarts, graceful shutdown."""

from __future__ import annotations

import asyncio
import logging

import pytest
from host_helpers import MINIMAL, PINGPONG, PLAIN, POISON, events_of, eventually, u32

import airssys_wasm as aw
from airssys_wasm import Host, HostConfig
from airssys_wasm import multicodec as mc
from airssys_wasm.actor import (
    ActorState,
    Backoff,
    DeadLetterReason,
    EscalationEvent,
    HealthCheck,
    RestartEvent,
)
from airssys_wasm.demo import path

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


async def test_stop_host_opt_in_root_intensity_exceeded_stops_every_component(engine) -> None:
    config = HostConfig(health=None, max_restarts=1, within=60.0, on_give_up="stop_host")
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


ZERO = Backoff(initial=0.0, jitter=0.0)


async def test_a_component_over_its_restart_intensity_fails_alone(engine) -> None:
    """The default HostConfig: 4 traps within 5 s stop that component, nothing else."""
    async with Host(HostConfig(health=None), engine=engine) as host:
        events: list = []
        host.add_listener(events.append)
        bad = await host.spawn("bad", PINGPONG, backoff=ZERO)
        await host.spawn("good", PINGPONG, backoff=ZERO)
        await host.send("good", POISON)  # good's own failures do not count against bad's
        for _ in range(4):
            await host.send("bad", POISON)
        # queued behind the fourth trap: a message and a request, both reported with the reason
        await host.send("bad", PLAIN)
        with pytest.raises(aw.SupervisorEscalation, match="spawn it again"):
            await host.request("bad", b"cnt?", timeout=5.0)
        await eventually(lambda: bad.state is ActorState.FAILED, "bad to be given up")
        assert isinstance(bad.error, aw.SupervisorEscalation)
        assert "'bad' failed more than 3 times within 5.0s" in str(bad.error)
        assert [(e.supervisor, e.child) for e in events if isinstance(e, EscalationEvent)] == [
            ("host/root", "bad")]
        gave_up = [d for d in host.dead_letters if d.reason is DeadLetterReason.GAVE_UP]
        assert gave_up[0].message == (host.config.host_id, PLAIN)
        assert gave_up[1].message.operation == b"cnt?"  # the request, failed with the reason
        assert len(gave_up) == 2 and all(d.error is bad.error for d in gave_up)
        assert (bad.stats.failures, bad.stats.restarts, bad.stats.dead_letters) == (4, 3, 6)
        assert host.ref("bad") is bad and host.stats("bad").guest_errors == 0  # still answer
        assert host.names() == ["good"] and "bad" not in host.router
        with pytest.raises(aw.ComponentNotFound):
            await host.send("bad", PLAIN)
        await host.send("good", PLAIN)
        assert await count(host, "good") == 1  # restarted once, then counted
        again = await host.spawn("bad", PINGPONG)  # the host still spawns, the name is free
        await host.send("bad", PLAIN)
        assert await count(host, "bad") == 1 and again.state is ActorState.RUNNING
        assert host.ref("bad") is again
        await host.stop("bad")


async def test_a_user_supervisor_that_gives_up_stops_its_subtree_only(engine) -> None:
    async with Host(HostConfig(health=None), engine=engine) as host:
        group = await host.supervisor("group", max_restarts=1, within=60.0)
        a = await host.spawn("a", PINGPONG, supervisor=group, backoff=ZERO)
        b = await host.spawn("b", PINGPONG, supervisor=group, backoff=ZERO)
        await host.spawn("other", PINGPONG)
        await host.send("a", POISON)
        await host.send("a", POISON)
        await eventually(lambda: a.state is ActorState.FAILED and b.state is ActorState.FAILED,
                         "the subtree to be given up")
        assert isinstance(b.error, aw.SupervisorEscalation)
        assert host.names() == ["other"] and not group.running
        await host.send("other", PLAIN)
        assert await count(host, "other") == 1
        group = await host.supervisor("group")  # every name is free again
        await host.spawn("a", PINGPONG, supervisor=group)
        assert await count(host, "a") == 0


def test_on_give_up_is_validated() -> None:
    with pytest.raises(aw.ConfigError, match="on_give_up.*'stop_component'.*'stop_host'"):
        HostConfig(on_give_up="stop_some")


@pytest.mark.parametrize("field, value, message", [
    ("capacity", 0, "HostConfig.capacity must be >= 1"),
    ("capacity", 2 ** 63, "HostConfig.capacity must be at most 67,108,864"),
    # Accepted before, then every spawn's drain failed in C (OverflowError) until the root
    # supervisor gave up on the component.
    ("batch_size", 2 ** 63, "HostConfig.batch_size must be at most 67,108,864"),
    ("shutdown_timeout", float("nan"), "HostConfig.shutdown_timeout must be a finite number"),
    ("max_restarts", -1, "max_restarts must be >= 0"),
    ("within", float("inf"), "within must be a finite number"),
    ("dead_letter_history", -1, "HostConfig.dead_letter_history must be an int >= 0"),
    ("backoff", 0.5, "HostConfig.backoff must be an airssys_wasm.actor.Backoff"),
    ("health", 10, "HostConfig.health must be an airssys_wasm.actor.HealthCheck or None"),
])
def test_spawn_and_supervision_defaults_are_refused_where_they_are_written(field, value,
                                                                           message) -> None:
    with pytest.raises(aw.ConfigError, match=message):
        HostConfig(**{field: value})


async def test_the_largest_batch_a_mailbox_allows_runs(engine) -> None:
    async with Host(HostConfig(health=None, batch_size=1 << 26), engine=engine) as host:
        await host.spawn("pp", PINGPONG)
        for _ in range(3):
            await host.send("pp", PLAIN)
        assert await count(host, "pp") == 3


async def test_crash_loop_of_a_thousand_traps_leaves_the_neighbours_exact(engine) -> None:
    """~1,000 traps with zero backoff while 3 neighbours each get 10,000 messages."""
    traps, per_neighbour = 1000, 10_000
    config = HostConfig(health=None, max_restarts=traps - 1, within=3600.0)
    async with Host(config, engine=engine) as host:
        loop_ref = await host.spawn("loop", PINGPONG, backoff=ZERO, capacity=traps + 16)
        neighbours = ["n1", "n2", "n3"]
        for name in neighbours:
            await host.spawn(name, PINGPONG, backoff=ZERO)

        async def feed(name: str) -> None:
            for _ in range(per_neighbour):
                await host.send(name, PLAIN)

        async def poison() -> None:
            for _ in range(traps):
                await host.send("loop", POISON)
                await asyncio.sleep(0)  # interleave with the neighbours' traffic

        await asyncio.wait_for(asyncio.gather(poison(), *(feed(n) for n in neighbours)), 60.0)
        await eventually(lambda: loop_ref.state is ActorState.FAILED, "the crash loop to end")
        for _ in range(600):  # bounded: the loop's queue is handled or given up by now
            if loop_ref.actor.mailbox.closed:
                break
            await asyncio.sleep(0.01)
        assert loop_ref.actor.mailbox.closed
        assert loop_ref.stats.failures == traps and loop_ref.stats.restarts == traps - 1
        assert isinstance(loop_ref.error, aw.SupervisorEscalation)
        for name in neighbours:
            assert await count(host, name) == per_neighbour
            assert host.ref(name).stats.failures == 0
        assert host.system.escalation is None
        await host.spawn("loop", PINGPONG)  # the host still spawns, under the same name
        assert await count(host, "loop") == 0


# crasher's "refuse" branch, made to compute ~20M loop iterations first: far past a time slice,
# so the call always suspends and its error answer arrives through the GuestCall's chain.
REFUSE_BRANCH = """      i32.const 27
      i32.const 3
      call $starts
      if ;; label = @1
"""
SPIN = """        i32.const 0
        local.set $c
        loop $spin
          local.get $c
          i32.const 1
          i32.add
          local.tee $c
          i32.const 20000000
          i32.lt_u
          br_if $spin
        end
"""


async def test_an_error_answer_after_a_suspension_is_a_dead_letter_not_a_failure(
        engine, tmp_path) -> None:
    text = path("crasher").read_text()
    assert text.count(REFUSE_BRANCH) == 1
    slow = tmp_path / "slow-crasher.wat"
    slow.write_text(text.replace(REFUSE_BRANCH, REFUSE_BRANCH + SPIN))
    async with Host(HostConfig(health=None), engine=engine) as host:
        ref = await host.spawn("slow", slow, backoff=Backoff(initial=0))
        frame = mc.encode(mc.Codec.RAW, b"refuse")
        for _ in range(3):
            await host.send("slow", frame)
        await host.send("slow", mc.encode(mc.Codec.RAW, b"fine"))
        await eventually(lambda: ref.stats.messages_out == 4, "the four messages")
        letters = host.dead_letters
        assert [type(letter.error) for letter in letters] == [aw.GuestError] * 3
        assert all("refused" in str(letter.error) for letter in letters)
        assert {letter.reason for letter in letters} == {DeadLetterReason.FAILED}
        # As when the answer comes at once: refusals are not the actor's failures.
        stats = ref.stats
        assert (stats.restarts, stats.failures, stats.dead_letters) == (0, 0, 0)
        assert host.stats("slow").guest_errors == 3
        assert ref.state is ActorState.RUNNING
