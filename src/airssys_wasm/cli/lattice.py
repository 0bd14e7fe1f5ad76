"""``airssys-wasm lattice``: tooling for a lattice of node hosts on NATS JetStream.

Only click is imported here: the cluster module (and its process handling) loads when a
subcommand runs, so ``airssys-wasm --help`` stays fast.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from airssys_wasm.lattice.cluster import LocalCluster


@click.group()
def lattice() -> None:
    """A lattice of node hosts on NATS JetStream (needs `pip install 'airssys-wasm[lattice]'`)."""


@lattice.command()
@click.option("--nodes", default=1, show_default=True, type=click.IntRange(1, 32),
              help="How many nats-server processes (clustered when more than 1; JetStream "
                   "keeps working with one server down from 3 servers on).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep each server's config, log and JetStream store in DIR/nats-N (kept on "
                   "exit; default: a temporary directory, removed on exit).")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None,
              help="Require the token in this file (its first line) from every client. A "
                   "file, not an option value, so the token shows neither in `ps` nor in logs.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Seconds to wait for every server to be ready.")
def up(nodes: int, directory: Path | None, token_file: Path | None, timeout: float) -> None:
    """Run a local NATS JetStream cluster on free 127.0.0.1 ports until Ctrl-C / SIGTERM.

    The first line on stdout is the cluster's URL (comma-separated `nats://` URLs, no token),
    for a script to read; a line on stderr says what runs. On Ctrl-C / SIGTERM the servers
    stop and the command exits 0. The nats-server run is $AIRSSYS_NATS_SERVER if set, else
    the one on PATH, else the one the [lattice] extra installs next to Python.
    """
    from airssys_wasm.errors import AirssysError
    from airssys_wasm.lattice.cluster import CLUSTER_NAME, LocalCluster

    token = read_secret(token_file) if token_file is not None else None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            cluster = LocalCluster(nodes, dir=directory, token=token)
            cluster.start(timeout=timeout)
        except (AirssysError, OSError) as exc:
            raise click.ClickException(str(exc)) from None
        try:
            click.echo(cluster.url)
            sys.stdout.flush()
            kind = f"cluster {CLUSTER_NAME!r} of {nodes} servers" if nodes > 1 else "1 server"
            auth = "token required" if token is not None else "no authentication"
            where = f"store in {directory}" if directory is not None else "temporary store"
            click.echo(f"NATS JetStream ready: {kind}, {auth}, {where}; Ctrl-C to stop", err=True)
            _serve(cluster, stop)
        finally:
            cluster.stop()
        click.echo("stopped", err=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(cluster: LocalCluster, stop: threading.Event) -> None:
    """Wait for ``stop``, saying on stderr when a server exits by itself; when none is left,
    fail (exit 1): a script waiting on the command learns its servers are gone."""
    reported: set[int] = set()
    while not stop.wait(0.5):
        for i in range(cluster.nodes):
            if i not in reported and not cluster.alive(i):
                reported.add(i)
                log = cluster.dir / f"nats-{i}" / "server.log"
                try:
                    tail = log.read_text(errors="replace").splitlines()[-5:]
                except OSError:
                    tail = []
                click.echo(f"nats-server nats-{i} exited; {log} ends with:", err=True)
                for line in tail:
                    click.echo(f"  | {line}", err=True)
        if len(reported) == cluster.nodes:
            raise click.ClickException("every nats-server exited; see their logs above")


def read_secret(path: Path, what: str = "token", option: str = "--token-file") -> str:
    """The first line of ``path`` (a token, an nkey seed), without its line break and
    surrounding whitespace; BadParameter naming ``option`` when there is none."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {str(path)!r}: {exc}", param_hint=option)
    secret = lines[0].strip() if lines else ""
    if not secret or not secret.isprintable():
        raise click.BadParameter(f"{str(path)!r} holds no {what}: its first line must be the "
                                 f"{what} (printable characters)", param_hint=option)
    return secret
