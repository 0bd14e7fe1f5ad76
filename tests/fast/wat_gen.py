"""WAT text for pass-through test components, generated from a small type notation.

A pass-through component imports an instance (default ``host``) with functions and exports
functions of the same names and types. Each export is a core glue function that forwards its
flat parameters to the lowered import, so every value crosses the canonical ABI twice (host ->
guest memory -> host) and the guest never interprets it. With that, any WIT type can be tested
without writing canonical-ABI code by hand.

Type notation: ``"bool"``, ``"u8"`` ... ``"string"``, ``"char"``; ``("list", T)``,
``("record", [(name, T), ...])``, ``("tuple", [T, ...])``, ``("variant", [(name, T|None), ...])``,
``("enum", [name, ...])``, ``("option", T)``, ``("result", T|None, E|None)``,
``("flags", [name, ...])``.
"""

from __future__ import annotations

from typing import Any

Ty = Any
Func = tuple[str, list[tuple[str, Ty]], Ty | None]

_PRIMS = {
    "bool": ["i32"], "s8": ["i32"], "u8": ["i32"], "s16": ["i32"], "u16": ["i32"],
    "s32": ["i32"], "u32": ["i32"], "char": ["i32"], "s64": ["i64"], "u64": ["i64"],
    "f32": ["f32"], "f64": ["f64"], "string": ["i32", "i32"],
}
_NAMED = {"record", "variant", "enum", "flags"}
RET_AREA = 16
MAX_FLAT_PARAMS = 16  # beyond this the canonical ABI passes params through memory


def _join(a: str, b: str) -> str:
    if a == b:
        return a
    if {a, b} == {"i32", "f32"}:
        return "i32"
    return "i64"


def _flat_cases(cases: list[Ty | None]) -> list[str]:
    acc: list[str] = []
    for case in cases:
        for i, core in enumerate([] if case is None else flat(case)):
            if i < len(acc):
                acc[i] = _join(acc[i], core)
            else:
                acc.append(core)
    return ["i32"] + acc


def flat(ty: Ty) -> list[str]:
    """Canonical ABI flattening of a type into core value types."""
    if isinstance(ty, str):
        return list(_PRIMS[ty])
    tag = ty[0]
    if tag == "list":
        return ["i32", "i32"]
    if tag == "record":
        return [c for _, t in ty[1] for c in flat(t)]
    if tag == "tuple":
        return [c for t in ty[1] for c in flat(t)]
    if tag == "variant":
        return _flat_cases([t for _, t in ty[1]])
    if tag == "enum":
        return ["i32"]
    if tag == "option":
        return _flat_cases([None, ty[1]])
    if tag == "result":
        return _flat_cases([ty[1], ty[2]])
    if tag == "flags":
        return ["i32"] * ((len(ty[1]) + 31) // 32)
    raise ValueError(f"unknown type {ty!r}")


class _Types:
    """Emits named type definitions inside the imported instance type."""

    def __init__(self) -> None:
        self.decls: list[str] = []
        self.count = 0

    def ref(self, ty: Ty) -> str:
        if isinstance(ty, str):
            return ty
        tag = ty[0]
        if tag == "list":
            return f"(list {self.ref(ty[1])})"
        if tag == "tuple":
            return "(tuple " + " ".join(self.ref(t) for t in ty[1]) + ")"
        if tag == "option":
            return f"(option {self.ref(ty[1])})"
        if tag == "result":
            ok = "" if ty[1] is None else f" {self.ref(ty[1])}"
            err = "" if ty[2] is None else f" (error {self.ref(ty[2])})"
            return f"(result{ok}{err})"
        if tag == "record":
            body = " ".join(f'(field "{n}" {self.ref(t)})' for n, t in ty[1])
            body = f"(record {body})"
        elif tag == "variant":
            body = "(variant " + " ".join(
                f'(case "{n}")' if t is None else f'(case "{n}" {self.ref(t)})' for n, t in ty[1]) + ")"
        elif tag == "enum":
            body = "(enum " + " ".join(f'"{n}"' for n in ty[1]) + ")"
        elif tag == "flags":
            body = "(flags " + " ".join(f'"{n}"' for n in ty[1]) + ")"
        else:
            raise ValueError(f"unknown type {ty!r}")
        n = self.count
        self.count += 1
        self.decls.append(f"(type $d{n} {body})")
        self.decls.append(f'(export "t{n}" (type $x{n} (eq $d{n})))')
        return f"$x{n}"


def _functype(types: _Types, params: list[tuple[str, Ty]], result: Ty | None) -> str:
    ps = " ".join(f'(param "{n}" {types.ref(t)})' for n, t in params)
    rs = "" if result is None else f" (result {types.ref(result)})"
    return f"(func {ps}{rs})"


_ALLOCATOR = """
    (memory (export "memory") 1)
    (global $bump (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $r i32)
      ;; align the bump pointer, then grow memory if the new block does not fit
      (local.set $r (i32.and (i32.sub (i32.add (global.get $bump) (local.get 2)) (i32.const 1))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $bump (i32.add (local.get $r) (local.get 3)))
      (block $ok
        (br_if $ok (i32.le_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536))))
        (br_if $ok (i32.ne (memory.grow
          (i32.add (i32.shr_u (i32.sub (global.get $bump) (i32.mul (memory.size) (i32.const 65536)))
                              (i32.const 16)) (i32.const 1))) (i32.const -1)))
        unreachable)
      (local.get $r))
    (func (export "reset") (global.set $bump (i32.const 1024)))
"""


def passthrough(funcs: list[Func], instance: str = "host") -> str:
    """A component whose exports forward to the same-named imports of ``instance``."""
    types = _Types()
    sigs = [_functype(types, params, result) for _, params, result in funcs]
    inst_body = "\n      ".join(types.decls + [
        f'(export "{name}" {sig})' for (name, _, _), sig in zip(funcs, sigs)])
    aliases, lowers, glue_imports, glue_funcs, lifts, exports = [], [], [], [], [], []
    for i, (name, params, result) in enumerate(funcs):
        flat_params = [c for _, t in params for c in flat(t)]
        if len(flat_params) > MAX_FLAT_PARAMS:
            # Both the lifted export and the lowered import then take one pointer to the params
            # in memory, laid out identically: the glue forwards the pointer.
            flat_params = ["i32"]
        flat_results = [] if result is None else flat(result)
        indirect = len(flat_results) > 1
        lower_params = flat_params + (["i32"] if indirect else [])
        lower_results = [] if indirect else flat_results
        lift_results = ["i32"] if indirect else flat_results
        aliases.append(f'(alias export $h "{name}" (func $imp{i}))')
        lowers.append(f'(core func $low{i} (canon lower (func $imp{i}) '
                      f'(memory (core memory $mi "memory")) (realloc (core func $mi "realloc"))))')
        glue_imports.append(
            f'(import "h" "f{i}" (func $f{i} (param {" ".join(lower_params)}) (result {" ".join(lower_results)})))')
        body = " ".join(f"local.get {j}" for j in range(len(flat_params)))
        if indirect:
            body += f" i32.const {RET_AREA} call $f{i} i32.const {RET_AREA}"
        else:
            body += f" call $f{i}"
        glue_funcs.append(
            f'(func (export "g{i}") (param {" ".join(flat_params)}) (result {" ".join(lift_results)}) {body})')
        lifts.append(f'(func $ex{i} (type $ft{i}) (canon lift (core func $gi "g{i}") '
                     f'(memory (core memory $mi "memory")) (realloc (core func $mi "realloc")) '
                     f'(post-return (core func $pr{i}))))')
        exports.append(f'(export "{name}" (func $ex{i}))')
    with_items = " ".join(f'(export "f{i}" (func $low{i}))' for i in range(len(funcs)))
    # post-return functions take the lifted results and reset the bump allocator.
    post = []
    for i, (name, params, result) in enumerate(funcs):
        flat_results = [] if result is None else flat(result)
        lift_results = ["i32"] if len(flat_results) > 1 else flat_results
        post.append(f'(func (export "p{i}") (param {" ".join(lift_results)}) call $reset)')
    post_aliases = "\n  ".join(f'(alias core export $pi "p{i}" (core func $pr{i}))' for i in range(len(funcs)))
    type_aliases = "\n  ".join(
        f'(type $ft{i} {sig_top})' for i, sig_top in enumerate(_top_sigs(funcs)))
    return f"""
(component
  (import "{instance}" (instance $h
      {inst_body}
  ))
  {_alias_types(types.count)}
  {type_aliases}
  {chr(10).join("  " + a for a in aliases)}
  (core module $m {_ALLOCATOR})
  (core instance $mi (instantiate $m))
  {chr(10).join("  " + l for l in lowers)}
  (core module $glue
    {chr(10).join("    " + g for g in glue_imports)}
    {chr(10).join("    " + g for g in glue_funcs)}
  )
  (core instance $gi (instantiate $glue (with "h" (instance {with_items}))))
  (core module $post
    (import "m" "reset" (func $reset))
    {chr(10).join("    " + p for p in post)}
  )
  (alias core export $mi "reset" (core func $reset))
  (core instance $pi (instantiate $post (with "m" (instance (export "reset" (func $reset))))))
  {post_aliases}
  {chr(10).join("  " + l for l in lifts)}
  {chr(10).join("  " + e for e in exports)}
)
"""


def _alias_types(count: int) -> str:
    return "\n  ".join(f'(alias export $h "t{n}" (type $x{n}))' for n in range(count))


def _top_sigs(funcs: list[Func]) -> list[str]:
    """Function types at component level. A fresh traversal in the same order numbers the named
    types exactly as inside the instance type, so they refer to the aliases $x0, $x1 ..."""
    types = _Types()
    return [_functype(types, params, result) for _, params, result in funcs]


def echo(ty: Ty, name: str = "echo") -> str:
    """A component exporting ``echo: func(x: T) -> T`` that forwards to the host's ``echo``."""
    return passthrough([(name, [("x", ty)], ty)])
