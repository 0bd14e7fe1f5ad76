"""Bad arguments are refused before reaching wasm, with messages naming the parameter and path."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import wasmtime
import wasmtime.component as wc

from airssys_wasm._fast import fastcall

from . import wat_gen
from .components import COMPONENT_ID, FAULTS, HANDLE_MESSAGE, LOG_LEVEL
from .conftest import Built, build

SIGNATURE: Any = [
    ("take", [("flag", "bool"), ("small", "u8"), ("signed", "s16"), ("big", "u64"), ("real", "f32"),
              ("letter", "char"), ("text", "string"), ("blob", ("list", "u8")), ("level", LOG_LEVEL),
              ("id", COMPONENT_ID), ("maybe", ("option", ("option", "u8")))], "u32"),
]
GOOD: dict[str, Any] = {
    "flag": True, "small": 1, "signed": -2, "big": 2**64 - 1, "real": 1.5, "letter": "x",
    "text": "hi", "blob": b"\x00\x01", "level": "info",
    "id": {"namespace": "a", "name": "b", "version": "1"}, "maybe": fastcall.Some(None),
}


@pytest.fixture(scope="module")
def take(engine: wasmtime.Engine) -> fastcall.ComponentFunc:
    built = build(engine, wat_gen.passthrough(SIGNATURE), {"take": lambda *args: 7}, fast_host=True)
    return built.fast("take")


def _args(**override: Any) -> list[Any]:
    values = dict(GOOD, **override)
    return [values[name] for name, _ in SIGNATURE[0][1]]


def test_good_arguments_pass(take: fastcall.ComponentFunc) -> None:
    assert take(*_args()) == 7


def test_wrong_arity_names_the_signature(take: fastcall.ComponentFunc) -> None:
    with pytest.raises(TypeError, match=r"take\(flag: bool, .* takes 11 argument\(s\), got 2"):
        take(True, 1)


@pytest.mark.parametrize(
    ("override", "exc", "pattern"),
    [
        ({"flag": 1}, TypeError, r"parameter 'flag' .*expected bool, got int"),
        ({"small": 256}, ValueError, r"parameter 'small' .*256 is out of range for u8 \(0\.\.255\)"),
        ({"small": -1}, ValueError, r"parameter 'small' .*-1 is out of range for u8"),
        ({"small": True}, TypeError, r"parameter 'small' .*expected int for u8, got bool"),
        ({"signed": -32769}, ValueError, r"parameter 'signed' .*out of range for s16"),
        ({"big": 2**64}, ValueError, r"parameter 'big' .*out of range for u64"),
        ({"big": 1.0}, TypeError, r"parameter 'big' .*expected int for u64, got float"),
        ({"real": "1.5"}, TypeError, r"parameter 'real' .*expected float for f32, got str"),
        ({"letter": "ab"}, TypeError, r"parameter 'letter' .*one-character str"),
        ({"letter": "\ud800"}, ValueError, r"parameter 'letter' .*surrogate"),
        ({"text": b"hi"}, TypeError, r"parameter 'text' .*expected str for string, got bytes"),
        ({"text": "a\udcffb"}, ValueError, r"parameter 'text' .*lone surrogates"),
        ({"blob": [1, 2]}, TypeError, r"parameter 'blob' .*bytes-like .*got list"),
        ({"blob": 5}, TypeError, r"parameter 'blob' .*bytes-like object for list<u8>, got int"),
        ({"level": "loud"}, ValueError, r"parameter 'level' .*'loud' is not a case of enum\{trace"),
        ({"id": {"namespace": "a", "name": "b"}}, TypeError, r"parameter 'id' .*missing field 'version'"),
        ({"id": {"namespace": "a", "name": "b", "version": "1", "x": 1}}, TypeError,
         r"parameter 'id' .*unknown field\(s\) 'x'"),
        ({"id": {"namespace": "a", "name": 3, "version": "1"}}, TypeError,
         r"parameter 'id' .*\.name: expected str for string, got int"),
        ({"maybe": 5}, TypeError, r"parameter 'maybe' .*Some\(value\)"),
        ({"maybe": fastcall.Some(300)}, ValueError, r"parameter 'maybe' .*300 is out of range for u8"),
    ],
)
def test_bad_argument_names_parameter(take: fastcall.ComponentFunc, override: dict[str, Any],
                                      exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        take(*_args(**override))
    # Nothing reached the guest, so the Store is still usable.
    assert take(*_args()) == 7


def test_nested_paths_in_messages(engine: wasmtime.Engine) -> None:
    ty = ("list", ("variant", [("a", ("tuple", ["u8", "string"])), ("b", None)]))
    built = build(engine, wat_gen.echo(ty), {"echo": lambda x: x}, fast_host=True)
    echo = built.fast("echo")
    assert echo([("a", (1, "x")), ("b", None), "b"]) == [("a", (1, "x")), ("b", None), ("b", None)]
    with pytest.raises(ValueError, match=r"\[1\]: \(a\): \[0\]: 999 is out of range for u8"):
        echo([("b", None), ("a", (999, "x"))])
    with pytest.raises(TypeError, match=r"\[0\]: case 'b' .* has no payload"):
        echo([("b", 1)])
    with pytest.raises(TypeError, match=r"case 'a' .* needs a payload"):
        echo(["a"])
    with pytest.raises(ValueError, match=r"'c' is not a case"):
        echo([("c", None)])


def test_list_mutated_by_user_code_during_conversion_is_refused(engine: wasmtime.Engine) -> None:
    ty = ("list", ("variant", [("a", "u8"), ("b", None)]))
    built = build(engine, wat_gen.echo(ty), {"echo": lambda x: x}, fast_host=True)
    victims: list[Any] = []

    class Shrinking(str):
        """A case name whose hash empties the list being converted."""

        def __hash__(self) -> int:
            victims.clear()
            return str.__hash__(self)

        __eq__ = str.__eq__

    victims.extend([("b", None), (Shrinking("b"), None), ("a", 1), ("a", 2)])
    with pytest.raises(ValueError, match="changed size while being converted"):
        built.fast("echo")(victims)
    assert built.fast("echo")([("a", 3)]) == [("a", 3)]


def test_result_and_flags_validation(engine: wasmtime.Engine) -> None:
    result = build(engine, wat_gen.echo(("result", None, "string")), {"echo": lambda x: x}, fast_host=True)
    with pytest.raises(ValueError, match="must be 'ok' or 'err'"):
        result.fast("echo")(("fine", None))
    with pytest.raises(TypeError, match="has no payload"):
        result.fast("echo")(("ok", 1))
    flags = build(engine, wat_gen.echo(("flags", ["r", "w"])), {"echo": lambda x: x}, fast_host=True)
    assert flags.fast("echo")(["w", "r", "w"]) == frozenset({"r", "w"})
    with pytest.raises(ValueError, match="'x' is not a case of flags"):
        flags.fast("echo")({"x"})
    with pytest.raises(TypeError, match="set of flag names"):
        flags.fast("echo")("r")


def test_handle_message_signature_is_compiled_once(engine: wasmtime.Engine) -> None:
    built = build(engine, wat_gen.passthrough(HANDLE_MESSAGE), {"handle-message": lambda s, m: ("ok", None)},
                  fast_host=True)
    func = built.fast("handle-message")
    assert func.plan.signature == (
        "handle-message(sender: record{namespace: string, name: string, version: string}, "
        "message: list<u8>) -> result<_, variant{initialization-failed(string), "
        "configuration-invalid(string), resource-exhausted(string), internal-error(string)}>")


def test_closed_store_is_refused(engine: wasmtime.Engine) -> None:
    component = wc.Component(engine, FAULTS)
    store = wasmtime.Store(engine)
    instance = wc.Linker(engine).instantiate(store, component)
    add = fastcall.ComponentFunc.from_export(store, instance, "add")
    assert add(1, 2) == 3
    store.close()
    with pytest.raises(ValueError, match="Store was closed"):
        add(1, 2)


def test_handle_from_another_store_is_refused(engine: wasmtime.Engine) -> None:
    component = wc.Component(engine, FAULTS)
    linker = wc.Linker(engine)
    store_a, store_b = wasmtime.Store(engine), wasmtime.Store(engine)
    instance_a = linker.instantiate(store_a, component)
    func_a = instance_a.get_func(store_a, "add")
    assert func_a is not None
    with pytest.raises(ValueError, match="belongs to a different wasmtime.Store"):
        fastcall.ComponentFunc(store_b, func_a, "add")


def test_missing_export_and_unsupported_arguments(engine: wasmtime.Engine) -> None:
    component = wc.Component(engine, FAULTS)
    store = wasmtime.Store(engine)
    instance = wc.Linker(engine).instantiate(store, component)
    with pytest.raises(LookupError, match="no exported function 'nope'"):
        fastcall.ComponentFunc.from_export(store, instance, "nope")
    with pytest.raises(TypeError, match="wasmtime.component.Func"):
        fastcall.ComponentFunc(store, object(), "x")
    with pytest.raises(TypeError, match="wasmtime.Store"):
        fastcall.ComponentFunc(object(), instance.get_func(store, "add"), "add")


def test_store_entered_from_two_threads_is_refused(engine: wasmtime.Engine) -> None:
    config = wasmtime.Config()
    config.epoch_interruption = True
    spin_engine = wasmtime.Engine(config)
    component = wc.Component(spin_engine, FAULTS)
    store = wasmtime.Store(spin_engine)
    store.set_epoch_deadline(1)
    instance = wc.Linker(spin_engine).instantiate(store, component)
    spin = fastcall.ComponentFunc.from_export(store, instance, "spin")
    add = fastcall.ComponentFunc.from_export(store, instance, "add")
    started = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        started.set()
        try:
            spin()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    started.wait()
    # Retry until the worker is inside wasm (it sets the owner before releasing the GIL).
    refused = None
    for _ in range(1000):
        try:
            add(1, 1)
        except RuntimeError as exc:
            refused = exc
            break
        except Exception:  # the store got poisoned by the interrupt already: stop probing
            break
        threading.Event().wait(0.001)
    spin_engine.increment_epoch()
    worker.join(5)
    assert not worker.is_alive()
    assert refused is not None and "another thread" in str(refused)
    assert errors and errors[0].__class__.__name__ == "TrapError"


def test_reused_record_argument_follows_changes(engine: wasmtime.Engine) -> None:
    seen: list[Any] = []
    built = build(engine, wat_gen.passthrough(HANDLE_MESSAGE),
                  {"handle-message": lambda sender, message: seen.append((sender, message)) or ("ok", None)},
                  fast_host=True)
    handle = built.fast("handle-message")
    sender = {"namespace": "a", "name": "b", "version": "1"}
    handle(sender, b"1")
    handle(sender, b"2")                       # equal dict: the lowered record is reused
    sender["name"] = "changed"                 # mutated in place: must not reuse the stale one
    handle(sender, b"3")
    handle(dict(sender), b"4")                 # an equal copy
    handle({"namespace": "x", "name": "y", "version": "2"}, b"5")
    with pytest.raises(TypeError, match="missing field 'version'"):
        handle({"namespace": "x", "name": "y"}, b"6")
    assert [s["name"] for s, _ in seen] == ["b", "b", "changed", "changed", "y"]
    assert [m for _, m in seen] == [b"1", b"2", b"3", b"4", b"5"]


def test_kept_bytes_argument_carries_each_calls_own_bytes(engine: wasmtime.Engine) -> None:
    seen: list[bytes] = []
    built = build(engine, wat_gen.passthrough(HANDLE_MESSAGE),
                  {"handle-message": lambda sender, message: seen.append(message) or ("ok", None)},
                  fast_host=True)
    handle = built.fast("handle-message")
    sender = {"namespace": "a", "name": "b", "version": "1"}
    frames = [b"ab", b"cd", b"cd", b"xyz", b"q", b"qq", b"", b"", bytearray(b"rs"), b"tu",
              memoryview(b"vw"), b"\x00" * 64, b"\xff" * 64, b"\x01" * 65, b"\x02" * 65, b"zz"]
    for frame in frames:
        handle(sender, frame)          # same length as the kept array: its bytes are rewritten
    with pytest.raises(TypeError, match="list<u8>"):
        handle(sender, "ab")           # refused as before, and the kept array is untouched
    handle(sender, b"ok")
    assert seen == [bytes(f) for f in frames] + [b"ok"]


def test_converted_record_parameter_is_memoized_by_its_bytes(engine: wasmtime.Engine) -> None:
    conversions: list[dict[str, str]] = []
    seen: list[Any] = []

    def to_key(record: dict[str, str]) -> tuple[str, str, str]:
        conversions.append(record)
        return (record["namespace"], record["name"], record["version"])

    wat = wat_gen.passthrough(HANDLE_MESSAGE)
    component = wc.Component(engine, wat)
    linker = wc.Linker(engine)
    functype = fastcall.import_func_types(component, engine)["host"]["handle-message"]
    with linker.root() as root, root.add_instance("host") as li:
        fastcall.define_host_func(li, "handle-message",
                                  lambda key, message: seen.append((key, message)) or ("ok", None),
                                  functype, convert=(0, to_key))
        with pytest.raises(TypeError, match="not a record parameter"):
            fastcall.define_host_func(li, "other", lambda *a: None, functype, convert=(1, to_key))
        with pytest.raises(TypeError, match="convert="):
            fastcall.define_host_func(li, "other", lambda *a: None, functype, convert=to_key)
    handle = Built(engine, component, linker).fast("handle-message")
    a = {"namespace": "ns", "name": "a", "version": "1"}
    b = {"namespace": "ns", "name": "a", "version": "2"}
    shifted = {"namespace": "nsa", "name": "", "version": "1"}   # same bytes, other split
    for sender in [a, a, b, a, shifted, b, {"namespace": "", "name": "", "version": ""}]:
        handle(sender, b"m")
    assert [key for key, _ in seen] == [("ns", "a", "1"), ("ns", "a", "1"), ("ns", "a", "2"),
                                       ("ns", "a", "1"), ("nsa", "", "1"), ("ns", "a", "2"),
                                       ("", "", "")]
    assert conversions == [a, b, shifted, {"namespace": "", "name": "", "version": ""}]


def test_repeated_result_answers_reach_the_guest_as_returned(engine: wasmtime.Engine) -> None:
    ok = ("ok", None)
    bad = ("err", ("internal-error", "no"))
    answers: list[Any] = [ok, ok, bad, ok, ("ok", None), None, ok]
    built = build(engine, wat_gen.passthrough(HANDLE_MESSAGE),
                  {"handle-message": lambda sender, message: answers.pop(0)}, fast_host=True)
    handle = built.fast("handle-message")
    sender = {"namespace": "a", "name": "b", "version": "1"}
    assert [handle(sender, b"m") for _ in range(5)] == [ok, ok, bad, ok, ok]
    with pytest.raises(Exception) as failed:   # None is no result<_, string>: the guest traps
        handle(sender, b"m")
    assert "result" in str(failed.value) or "result" in str(failed.value.__cause__)
