"""``airssys-wasm node``: run this process as one node host of a lattice on NATS JetStream.

A node is the host ``airssys-wasm run`` starts (cli/system.py: the same monitor, live table
and graceful stop) with an ``aw.Lattice`` attached. With a SYSTEM.toml it spawns the file's
components on this node; without one it serves what other nodes place on it. Only click is
imported here: the host, the lattice and the NATS client load when the command runs, so
``airssys-wasm --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["node"]


def _labels(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
            ) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE (e.g. zone=a), got {value!r}")
        labels[key.strip()] = text.strip()
    return labels


@click.command()
@click.argument("system", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--nats", "url", required=True, metavar="URL",
              help="The NATS servers (nats://HOST:PORT, comma-separated for a cluster; "
                   "`airssys-wasm lattice up` prints one).")
@click.option("--name", required=True, help="This node's name, unique in the lattice.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", callback=_labels,
              help="A label placements can ask for (repeatable), e.g. --label zone=a.")
@click.option("--lattice", "lattice_name", default="default", show_default=True,
              help="The lattice's name, so several lattices share one NATS.")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None,
              help="The NATS token is the first line of this file (a file, not an option "
                   "value, so the token shows neither in `ps` nor in logs).")
@click.option("--nkey-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None,
              help="Sign in to NATS with the user nkey seed (SU...) on the first line of this "
                   "file, instead of a token.")
@click.option("--replicas", default=1, show_default=True, type=click.Choice(["1", "3", "5"]),
              help="JetStream replicas of the lattice's stream and buckets (3 on a cluster "
                   "of 3 servers).")
@click.option("--heartbeat", default=0.25, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Seconds between two heartbeats of this node.")
@click.option("--failover-after", default=1.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Seconds of silence after which a node is lost and its components move.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Leave by itself after this many seconds (default: until Ctrl-C / SIGTERM).")
def node(system: Path | None, url: str, name: str, labels: dict[str, str], lattice_name: str,
         token_file: Path | None, nkey_file: Path | None, replicas: str, heartbeat: float, failover_after: float,
         duration: float | None) -> None:
    """Join a lattice as node NAME and run until Ctrl-C / SIGTERM / --duration.

    With SYSTEM.toml (the `run` schema) its components start on this node; one whose name
    the lattice already has (another node runs it, or it failed over while this node was
    down) is skipped with a note. Without it the node runs what other nodes place on it.
    The first line is `node NAME joined lattice LATTICE at URL`. On stop the node's
    components are handed over to the other nodes (the first to claim one runs it).
    """
    import dataclasses

    from airssys_wasm.cli.lattice import read_secret
    from airssys_wasm.cli.monitor import make_console
    from airssys_wasm.cli.system import SystemSpec, load_system, run_system
    from airssys_wasm.errors import AirssysError
    from airssys_wasm.host import HostConfig
    from airssys_wasm.lattice import Lattice
    from airssys_wasm.runtime import EngineConfig
    from airssys_wasm.runtime.cache import default_cache_dir

    token = read_secret(token_file) if token_file is not None else None
    seed = (read_secret(nkey_file, "nkey seed", "--nkey-file") if nkey_file is not None
            else None)
    try:
        if system is not None:
            spec = load_system(system)
        else:
            spec = SystemSpec(path=Path(f"node-{name}"),
                              host=HostConfig(name=name, engine=EngineConfig(
                                  cache_dir=default_cache_dir())))
        # Any node may be asked to run a component with a fuel limit (placed here, or failed
        # over from another node): meter fuel whatever this node's own components need.
        spec = dataclasses.replace(spec, host=dataclasses.replace(
            spec.host, engine=dataclasses.replace(spec.host.engine, consume_fuel=True)))
        lattice = Lattice(url, node=name, labels=labels, name=lattice_name, token=token,
                          nkey_seed=seed,
                          heartbeat=heartbeat, failover_after=failover_after,
                          replicas=int(replicas))
        run_system(make_console(), spec, duration=duration, lattice=lattice)
    except (AirssysError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
