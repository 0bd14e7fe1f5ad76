"""Where a component of the lattice runs: ``aw.Placement`` and the choice among live nodes.

A placement is recorded with the component's spec, so the node that claims it after a node loss
applies the same rule: a pinned node waits for that node to come back, labels restrict the
candidates, ``spread`` picks the candidate running the fewest components and ``pack`` the one
running the most (ties by node name, so every node computes the same preference).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from airssys_wasm.errors import ConfigError, LatticeError

__all__ = ["NodeInfo", "Placement", "as_placement", "candidates"]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where ``Host.spawn(..., placement=...)`` runs a component of the lattice.

    ``node``: that node only (it waits for the node when the node is gone). ``labels``: only
    nodes whose labels include all of these (``airssys-wasm node --label k=v``). ``strategy``:
    ``spread`` (fewest components first) or ``pack`` (most first). No node and no labels: any
    live node, this one first when the strategy ties."""

    node: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    strategy: Literal["spread", "pack"] = "spread"

    def __post_init__(self) -> None:
        if self.strategy not in ("spread", "pack"):
            raise ConfigError(f"placement strategy {self.strategy!r} is unknown; use 'spread' "
                              "or 'pack'")
        if self.node is not None and (not isinstance(self.node, str) or not self.node):
            raise ConfigError(f"placement node must be a non-empty node name, not {self.node!r}")
        for key, value in self.labels.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ConfigError(f"placement labels are strings, got {key!r}={value!r}")

    def to_wire(self) -> dict[str, Any]:
        """The form stored with the spec (msgpack)."""
        return {"node": self.node, "labels": dict(self.labels), "strategy": self.strategy}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Placement:
        """Inverse of ``to_wire``."""
        return cls(node=data.get("node"), labels=dict(data.get("labels") or {}),
                   strategy=data.get("strategy") or "spread")

    def matches(self, info: NodeInfo) -> bool:
        """True when ``info`` may run a component placed by this rule."""
        if self.node is not None and info.name != self.node:
            return False
        return all(info.labels.get(k) == v for k, v in self.labels.items())


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A live node of the lattice as this node sees it (``Lattice.nodes()``)."""

    name: str
    labels: Mapping[str, str]
    #: How many components are placed on it now.
    components: int = 0
    #: False once it has been silent longer than ``Lattice.failover_after``.
    alive: bool = True


def as_placement(value: object) -> Placement:
    """``spawn``'s ``placement=`` argument as a Placement: a str pins a node; None is any node
    (``spawn`` then starts it on the calling node, and a node loss moves it anywhere)."""
    if value is None:
        return Placement()
    if isinstance(value, str):
        return Placement(node=value)
    if isinstance(value, Placement):
        return value
    raise TypeError(f"placement must be an aw.Placement, a node name or None, not "
                    f"{type(value).__name__}")


def candidates(placement: Placement, nodes: Sequence[NodeInfo], component: str) -> list[str]:
    """Live nodes allowed by ``placement``, preferred first; LatticeError when none is."""
    fit = [n for n in nodes if n.alive and placement.matches(n)]
    if not fit:
        wanted = (f"node {placement.node!r}" if placement.node else
                  f"labels {dict(placement.labels)}" if placement.labels else "any node")
        live = ", ".join(f"{n.name} {dict(n.labels)}" for n in nodes if n.alive) or "none"
        raise LatticeError(f"no live node can run {component!r}: it needs {wanted}; live nodes: "
                           f"{live}. Start a node with matching labels (airssys-wasm node "
                           "--label k=v) or change the placement")
    sign = 1 if placement.strategy == "spread" else -1
    return [n.name for n in sorted(fit, key=lambda n: (sign * n.components, n.name))]
