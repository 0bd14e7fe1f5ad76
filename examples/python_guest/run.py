"""Run the Python guest tally.py through a Host: messages, a request, a restart after a trap.

    airssys-wasm build tally.py -o tally.wasm     # componentize + precompile into the cache
    python run.py                                 # loads the precompiled code: no compile

TALLY_WASM / TALLY_CACHE override the component and the cache directory (the tests use them).
"""

import asyncio
import os
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm import multicodec as mc
from airssys_wasm.runtime.cache import default_cache_dir

HERE = Path(__file__).resolve().parent
WASM = Path(os.environ.get("TALLY_WASM", HERE / "tally.wasm"))
CACHE = Path(os.environ["TALLY_CACHE"]) if "TALLY_CACHE" in os.environ else default_cache_dir()


def js(value: object) -> bytes:
    return mc.encode_value(mc.Codec.JSON, value)


async def main() -> None:
    # The same cache directory `airssys-wasm build` precompiled into: the spawn loads, not compiles.
    config = aw.HostConfig(engine=aw.EngineConfig(cache_dir=CACHE))
    async with aw.Host(config) as host:
        await host.spawn("tally", WASM, manifest=HERE / "Component.toml")
        await host.send("tally", js({"add": 2}))
        await host.send("tally", js({"add": 40}))
        reply = mc.decode_value(await host.request("tally", js("total")))
        print(f"total {reply['total']} after {reply['messages']} messages")
        assert reply == {"total": 42, "messages": 2}

        await host.send("tally", js({"boom": "on purpose"}))  # traps; the supervisor restarts it
        while host.ref("tally").stats.restarts == 0:
            await asyncio.sleep(0.01)
        [letter] = host.dead_letters
        assert isinstance(letter.error, aw.TrapError)
        print(f"trapped and restarted; the guest said: {letter.error.stderr[-1]}")


if __name__ == "__main__":
    asyncio.run(main())
