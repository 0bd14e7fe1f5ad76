"""airssys_wasm_guest: write airssys components in Python (with componentize-py).

Pure Python, standard library only, because it runs inside the guest's embedded interpreter,
not in the host. A guest module defines one ``Component`` subclass; ``airssys-wasm build
guest.py -o guest.wasm`` wires it to the generated bindings::

    from airssys_wasm_guest import Component, decode_value, host

    class Greeter(Component):
        def handle_message(self, sender, message):
            host.log(f"{sender} says {decode_value(message)!r}")

``host`` wraps the host-services imports (log, send, request, time, sleep, components) and
``ext`` the extension interfaces a manifest grants; ``multicodec`` frames values exactly as
``airssys_wasm.multicodec`` does.
"""

from airssys_wasm_guest import ext, host
from airssys_wasm_guest.component import Component, Exports, Failure, find_component
from airssys_wasm_guest.host import HostError
from airssys_wasm_guest.multicodec import Codec, CodecError, decode, decode_value, encode, encode_value

__all__ = [
    "Codec",
    "CodecError",
    "Component",
    "Exports",
    "Failure",
    "HostError",
    "decode",
    "decode_value",
    "encode",
    "encode_value",
    "ext",
    "find_component",
    "host",
]
