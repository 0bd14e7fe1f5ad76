"""The ext interfaces' result plumbing for a synchronous caller (no actor drives the call):
one conversion to a WIT result, not two."""

from __future__ import annotations

from airssys_wasm.host.ext_common import GuestErr, blocking, wit_result


def test_a_synchronous_caller_gets_one_wit_result() -> None:
    ok = wit_result(lambda: blocking("read", lambda: b"data"))
    refused = wit_result(lambda: blocking("read", lambda: GuestErr("not-found", "no such file")))
    assert ok() == ("ok", b"data")
    assert refused() == ("err", ("not-found", "no such file"))
