"""Give a WebAssembly component a function of your own application: a billing ledger.

    python examples/host_functions/ledger.py

``billing.wit`` declares the interface, ``Ledger`` implements it in Python (``charge`` as
a plain ``def``, ``balance`` as an ``async def``, the resource ``receipt`` as the class
``Receipt``), ``guest.wat`` is a component that imports it
(made from ``guest.core.wat`` by ``examples/wat/build.py``), and ``Component.toml`` grants the
import (``[capabilities] interfaces``) and limits its rate (``[quota]``). See
docs/guides/host-functions.md.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

import airssys_wasm as aw

HERE = Path(__file__).resolve().parent


class InsufficientFunds(Exception):
    """Raised by the ledger; the guest receives ``err(insufficient-funds(short))``."""

    def __init__(self, short: int) -> None:
        super().__init__(f"{short} cents short")
        self.short = short


class Receipt:
    """The resource ``receipt``: the constructor makes one for the guest, ``add_line`` gets it
    as ``self`` from the guest's borrowed handle, ``drop`` runs once the guest drops it."""

    filed: list[tuple[str, list[tuple[str, int]]]] = []  # receipts the guests are done with

    def __init__(self, account: str) -> None:
        self.account = account
        self.lines: list[tuple[str, int]] = []

    def add_line(self, memo: str, cents: int) -> None:
        self.lines.append((memo, cents))

    def drop(self) -> None:
        Receipt.filed.append((self.account, self.lines))


class Ledger:
    """The embedder's own state; the guest reaches it only through ``billing.wit``."""

    Receipt = Receipt  # resource `receipt` is the class named `Receipt`

    def __init__(self) -> None:
        self.balances = {"alice": 1000, "bob": 100}
        self.charged_by: list[str] = []

    def charge(self, request: dict[str, Any]) -> tuple[str, int]:
        who = aw.caller()  # which component (and which request) is asking
        self.charged_by.append(who.name)
        account, cents = request["account"], request["cents"]
        if account not in self.balances:
            raise KeyError(account)  # mapped to err(unknown-account(...)) below
        if self.balances[account] < cents:
            raise InsufficientFunds(cents - self.balances[account])
        self.balances[account] -= cents
        return ("ok", self.balances[account])

    async def balance(self, account: str) -> int:
        await asyncio.sleep(0)  # e.g. a database query: only this guest waits
        return self.balances.get(account, 0)


ERRORS = {
    InsufficientFunds: lambda e: ("insufficient-funds", e.short),
    KeyError: lambda e: ("unknown-account", e.args[0]),
}

OUTCOMES = {0: "charged, new balance", 1: "refused, short by", 2: "refused, unknown account"}


def decode(reply: bytes) -> tuple[str, int, int]:
    """The guest's reply: (outcome, amount, balance)."""
    tag, amount, balance = struct.unpack("<BQQ", reply)
    return OUTCOMES[tag], amount, balance


async def main() -> list[tuple[str, int, int]]:
    ledger = Ledger()
    Receipt.filed.clear()
    async with aw.Host() as host:
        host.provide(HERE / "billing.wit", ledger, errors=ERRORS)
        await host.spawn("shop", HERE / "guest.wat", manifest=HERE / "Component.toml")
        results = []
        for account in ("alice", "bob", "carol"):
            outcome = decode(await host.request("shop", account.encode()))
            print(f"{account}: {outcome[0]} {outcome[1]} (balance {outcome[2]})")
            results.append(outcome)
    for account, lines in Receipt.filed:
        print(f"receipt for {account}: " + ", ".join(f"{memo} {cents}" for memo, cents in lines))
    return results


if __name__ == "__main__":
    asyncio.run(main())
