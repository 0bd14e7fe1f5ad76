"""tally: an airssys component written in Python (the guest SDK, airssys_wasm_guest).

Build it with `airssys-wasm build tally.py -o tally.wasm`: it defines handle_message,
execute and init, so the build targets the airssys-component world (the SDK supplies the
exports it does not define). Spawned with config data ``relay:<name>`` (``ComponentConfig``), it
is a pipeline stage: it forwards every frame unchanged to ``<name>`` and counts it (the
``demo --python-guest`` stage). Otherwise messages are JSON frames:

- ``{"add": n}`` adds ``n`` to the total;
- ``{"forward": "name", "value": v}`` sends ``v`` (a JSON frame) to component ``name``;
- ``{"ask": "name"}`` sends the request ``"ping"`` to ``name``; its callback keeps the answer;
- ``{"save": "key"}`` stores the total under ``key`` in the storage namespace ``tally`` (the
  Component.toml grants it, so the build adds the ext-storage interface); ``{"peek": "ns"}``
  reads namespace ``ns``, which is refused unless granted;
- ``{"refuse": "why"}`` answers an error result: the host sees a GuestError (no trap);
- ``{"boom": "why"}`` raises: the instance traps, the traceback reaches ``TrapError.stderr``
  and the supervisor restarts it (the total starts from 0 again).

A request (``execute``) answers ``{"total": ..., "messages": ...}``, for ``{"load": "key"}``
``{"stored": ...}`` (the saved total, or null), for ``"answer"`` the last ``ask`` callback's
``{"ok": ..., "value": ...}``.
"""

from airssys_wasm_guest import Codec, Component, Failure, HostError, decode_value, encode_value, ext, host


class Tally(Component):
    """Keeps a running total of the numbers it is sent."""

    def __init__(self) -> None:
        self.total = 0
        self.messages = 0
        self.relay_to = ""
        self.answer: dict[str, object] | None = None

    def init(self, env: dict[str, str], config: bytes | None) -> None:
        if config and config.startswith(b"relay:"):
            self.relay_to = config[len(b"relay:"):].decode()

    def handle_message(self, sender: str, message: bytes) -> None:
        self.messages += 1
        if self.relay_to:
            host.send_frame(self.relay_to, message)
            return
        value = decode_value(message)
        if not isinstance(value, dict):
            raise Failure(f"expected a JSON object, got {value!r}")
        if "boom" in value:
            raise RuntimeError(f"tally exploded: {value['boom']}")
        if "refuse" in value:
            raise Failure(value["refuse"])
        if "forward" in value:
            host.send(value["forward"], value.get("value"), Codec.JSON)
        if "ask" in value:
            host.request(value["ask"], "ping", self.on_answer, timeout_ms=2000)
        if "save" in value:
            ext.storage_set("tally", value["save"], str(self.total).encode())
        if "peek" in value:
            try:
                ext.storage_keys(value["peek"])
            except HostError as exc:
                raise Failure(f"storage said {exc.reason}") from None
        self.total += int(value.get("add", 0))
        host.log(f"message {self.messages} from {sender or 'the host'}: total {self.total}")

    def on_answer(self, ok: bool, value: object) -> None:
        self.answer = {"ok": ok, "value": value}

    def execute(self, operation: bytes, request_id: str, caller: str | None) -> bytes:
        op = decode_value(operation)
        if op == "answer":
            return encode_value(Codec.JSON, self.answer)
        if isinstance(op, dict) and "load" in op:
            stored = ext.storage_get("tally", op["load"])
            return encode_value(Codec.JSON, {"stored": None if stored is None else stored.decode()})
        return encode_value(Codec.JSON, {"total": self.total, "messages": self.messages})
