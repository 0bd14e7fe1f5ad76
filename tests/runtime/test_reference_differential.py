"""The runtime's fast call path against plain wasmtime-py, the slower reference.

The runtime calls components only through the Cython fast path; wasmtime-py's own component
API (``Func.__call__`` with ``Record``/``Variant`` values, host functions via ``add_func``) is kept
here as the reference: on generated senders, messages and operations, the ``echo`` component must
answer identically through both, and its host-services calls must reach the host with identical
arguments.
"""

from __future__ import annotations

from typing import Any

import wasmtime
import wasmtime.component as wc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airssys_wasm.errors import GuestError
from airssys_wasm.runtime import Artifact, ComponentId, Engine, ExecutionContext, HostServices
from airssys_wasm.runtime.world import HOST_SERVICES, LIFECYCLE

class Recorder:
    """Messaging + directory for the fast side; records what the guest asked for."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def send_message(self, sender: ComponentId, target: ComponentId, message: bytes) -> None:
        self.calls.append(("send", target.namespace, target.name, target.version, bytes(message)))

    def send_request(self, sender: ComponentId, target: ComponentId, request: bytes,
                     timeout_ms: int) -> str:
        self.calls.append(("request", target.name, bytes(request), timeout_ms))
        return f"req-{len(self.calls)}"

    def cancel_request(self, sender: ComponentId, request_id: str) -> None:
        self.calls.append(("cancel", request_id))

    def list_components(self) -> list[ComponentId]:
        return [ComponentId("peer", namespace="ns", version="1")]

    def component_metadata(self, component: ComponentId) -> None:
        self.calls.append(("meta", component.name))


class Reference:
    """The same component instantiated with wasmtime-py only (its own Linker and Store)."""

    def __init__(self, engine: Engine, artifact: Artifact) -> None:
        self.calls: list[tuple[Any, ...]] = []
        component = artifact.component  # type: ignore[attr-defined]
        linker = wc.Linker(engine.wasm_engine)
        calls = self.calls

        def send_message(_store: Any, target: Any, message: bytes) -> None:
            calls.append(("send", target.namespace, target.name, target.version, bytes(message)))

        def send_request(_store: Any, target: Any, request: bytes, timeout_ms: int) -> str:
            calls.append(("request", target.name, bytes(request), timeout_ms))
            return f"req-{len(calls)}"

        def cancel_request(_store: Any, request_id: str) -> None:
            calls.append(("cancel", request_id))

        def list_components(_store: Any) -> list[Any]:
            rec = wc.Record()
            for key, value in (("namespace", "ns"), ("name", "peer"), ("version", "1")):
                setattr(rec, key, value)
            return [rec]

        def get_component_metadata(_store: Any, target: Any) -> None:
            calls.append(("meta", target.name))

        funcs = {"log": lambda _s, level, message, context: None, "send-message": send_message,
                 "send-request": send_request, "cancel-request": cancel_request,
                 "current-time-millis": lambda _s: 0, "sleep-millis": lambda _s, ms: None,
                 "list-components": list_components, "get-component-metadata": get_component_metadata}
        with linker.root() as root, root.add_instance(HOST_SERVICES) as services:
            for name, fn in funcs.items():
                services.add_func(name, fn)
        self.store = wasmtime.Store(engine.wasm_engine)
        self.store.set_fuel(2**62)  # the session engine meters fuel and epochs
        self.store.set_epoch_deadline(2**62)
        instance = linker.instantiate(self.store, component)
        lifecycle = component.get_export_index(LIFECYCLE)
        self.handle = instance.get_func(self.store, component.get_export_index("handle-message", lifecycle))
        self.execute = instance.get_func(self.store, component.get_export_index("execute", lifecycle))

    def handle_message(self, sender: ComponentId, message: bytes) -> Any:
        rec = wc.Record()
        for key in ("namespace", "name", "version"):
            setattr(rec, key, getattr(sender, key))
        return self.handle(self.store, rec, message)

    def run(self, operation: bytes, request_id: str) -> tuple[str, Any]:
        ctx = wc.Record()
        setattr(ctx, "request-id", request_id)
        setattr(ctx, "timeout-ms", 0)
        setattr(ctx, "caller-info", None)
        out = self.execute(self.store, operation, ctx)
        if isinstance(out, bytes):
            return ("ok", out)
        return ("err", (out.tag, out.payload))


names = st.text(alphabet=st.characters(codec="utf-8", exclude_characters=":"), max_size=12)
senders = st.builds(ComponentId, name=names.filter(bool), namespace=names, version=names)
operations = st.one_of(
    st.binary(max_size=64).filter(lambda b: not b[:5].startswith((b"sleep", b"time", b"sick"))),
    st.just(b"last"), st.just(b"list"),
    names.map(lambda n: b"log:" + n.encode()),
    names.map(lambda n: b"send:" + n.encode()),
    names.map(lambda n: b"request:" + n.encode()),
    names.map(lambda n: b"cancel:" + n.encode()),
    names.map(lambda n: b"meta:" + n.encode()),
)
steps = st.lists(st.one_of(st.tuples(st.just("msg"), senders, st.binary(max_size=200)),
                           st.tuples(st.just("exec"), operations, names)), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=steps)
def test_runtime_matches_wasmtime_py(engine: Engine, echo: Artifact, script: list[tuple]) -> None:
    recorder = Recorder()
    fast = echo.instantiate(services=HostServices(ComponentId("echo"), directory=recorder,
                                                  messaging=recorder))
    ref = Reference(engine, echo)
    for kind, first, second in script:
        if kind == "msg":
            fast.handle_message(first, second)  # ok: raises GuestError otherwise
            assert ref.handle_message(first, second) is None
        else:
            try:
                got: tuple[str, Any] = ("ok", fast.execute(first, ExecutionContext(request_id=second)))
            except GuestError as exc:
                got = ("err", (exc.case, exc.detail))
            assert got == ref.run(first, second), (first, second)
    assert recorder.calls == ref.calls
    fast.close()
