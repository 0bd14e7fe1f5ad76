"""A small WIT parser: the interfaces an embedder implements in Python (``Host.provide``).

Why not ``wasm-tools component wit``: that is a 17 MB binary from an unofficial package, only
in the ``[test]`` extra; a host must not need it to start. What a host-function interface
needs is small — a package declaration (with version), interfaces, ``use`` of types from
another interface (of the same package, or of another package in the same text or folder,
e.g. a ``package ns:name@v { ... }`` block), type aliases, records, variants, enums, flags and
functions, with comments and doc comments anywhere — and that is what this parses (the
airssys WIT itself included: the host checks ext imports against it). The tests check its
output against ``wasm-tools component wit --json`` on generated and hand-written texts and on
the shipped ``wit/`` (the slow reference against ours).

Resources are parsed too: ``resource r { constructor(...); m: func(...); s: static func(...); }``
becomes the functions ``[constructor]r``, ``[method]r.m`` (with a first ``self: borrow<r>``) and
``[static]r.s``, named as ``wasm-tools`` names them; ``own<r>``, ``borrow<r>`` and a bare ``r``
(= ``own<r>``) are value types. ``stream``/``future``/``error-context`` and ``async func`` are
refused with a :class:`WitError` (the host has no representation for them). Worlds are skipped (a package may carry one; the host only needs its interfaces). A ``use`` of
a package that is not part of the parsed text or folder is refused (put it in the folder).

Every error is a :class:`WitError` with the file, line and column of the offending token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasmtime import component as wc

from airssys_wasm._files import open_regular
from airssys_wasm.errors import WitError
from airssys_wasm.runtime.world import render_type

__all__ = [
    "WitFunction",
    "WitInterface",
    "WitPackage",
    "WitType",
    "describe_mismatch",
    "load_wit",
    "load_wit_packages",
    "parse_wit",
]

#: Largest WIT text (or folder total) read: an interface is a few KiB; a bigger input is a mistake.
MAX_WIT_BYTES = 1 << 20
#: Deepest type nesting accepted (``list<list<...>>``); the resolver and renderers recurse.
MAX_DEPTH = 64
#: Longest chain of named types resolved through one another (``type b = a; type c = b; ...``).
MAX_NAMED_CHAIN = 128

PRIMITIVES = frozenset({"bool", "s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64",
                        "f32", "f64", "char", "string"})
_UNSUPPORTED_TYPES = {
    "stream": "streams", "future": "futures", "error-context": "error-context values",
}
_ASYNC_WHY = ("`async func` (component-model async) is not supported; declare a plain func and "
              "implement it with `async def` in Python")


@dataclass(frozen=True, slots=True)
class WitType:
    """A resolved WIT type. ``kind`` is a primitive name or list/option/result/tuple/record/
    variant/enum/flags, ``resource`` (the resource type itself), or ``own``/``borrow`` (a
    handle: ``args`` is the resource); ``name`` is the WIT name of a named type (None for
    anonymous ones). A resource's ``names`` is (its interface's qualified name, its name
    there), which tells resources of one name in different interfaces apart."""

    kind: str
    name: str | None = None
    #: list element / option payload (one item), result ``(ok, err)`` (None = absent), tuple items.
    args: tuple[WitType | None, ...] = ()
    #: record fields / variant cases (payload None = no payload).
    fields: tuple[tuple[str, WitType | None], ...] = ()
    #: enum cases / flag names.
    names: tuple[str, ...] = ()

    def structural(self) -> str:
        """Canonical structural text, the same as ``runtime.world.render_type`` gives for the
        matching wasmtime type: names of named types are left out (component types are
        structural), so the two can be compared."""
        k = self.kind
        if k in PRIMITIVES:
            return k
        if k == "list":
            return f"list<{_s(self.args[0])}>"
        if k == "option":
            return f"option<{_s(self.args[0])}>"
        if k == "result":
            return f"result<{_s(self.args[0])}, {_s(self.args[1])}>"
        if k == "tuple":
            return "tuple<" + ", ".join(_s(t) for t in self.args) + ">"
        if k in ("own", "borrow"):
            return f"{k}<resource>"  # as runtime.world renders the guest's handle types
        if k == "resource":
            return "resource"
        if k == "record":
            return "record { " + ", ".join(f"{n}: {_s(t)}" for n, t in self.fields) + " }"
        if k == "variant":
            return "variant { " + ", ".join(n if t is None else f"{n}({_s(t)})"
                                           for n, t in self.fields) + " }"
        return f"{k} {{ " + ", ".join(self.names) + " }"  # enum, flags

    def wit(self) -> str:
        """How the type is written in WIT (named types by their name)."""
        if self.name is not None:
            return self.name
        k = self.kind
        if k == "list":
            return f"list<{_w(self.args[0])}>"
        if k == "option":
            return f"option<{_w(self.args[0])}>"
        if k == "result":
            ok, err = self.args
            if ok is None and err is None:
                return "result"
            return f"result<{_w(ok)}, {_w(err)}>" if err is not None else f"result<{_w(ok)}>"
        if k == "tuple":
            return "tuple<" + ", ".join(_w(t) for t in self.args) + ">"
        if k == "own":
            return _w(self.args[0])
        if k == "borrow":
            return f"borrow<{_w(self.args[0])}>"
        return self.structural()


def _s(t: WitType | None) -> str:
    return "_" if t is None else t.structural()


def _w(t: WitType | None) -> str:
    return "_" if t is None else t.wit()


@dataclass(frozen=True, slots=True)
class WitFunction:
    name: str
    params: tuple[tuple[str, WitType], ...]
    result: WitType | None

    def structural(self) -> str:
        """Same text as ``runtime.world.render_func`` for the matching wasmtime FuncType."""
        params = ", ".join(f"{n}: {t.structural()}" for n, t in self.params)
        return f"func({params})" + ("" if self.result is None else f" -> {self.result.structural()}")

    def signature(self) -> str:
        """The function as written in WIT: ``charge: func(account: string) -> result<u64>``."""
        params = ", ".join(f"{n}: {t.wit()}" for n, t in self.params)
        return (f"{self.name}: func({params})"
                + ("" if self.result is None else f" -> {self.result.wit()}"))


@dataclass(frozen=True, slots=True)
class WitInterface:
    #: ``"acme:billing"``
    package: str
    version: str | None
    name: str
    functions: dict[str, WitFunction] = field(default_factory=dict)
    types: dict[str, WitType] = field(default_factory=dict)

    @property
    def qualified(self) -> str:
        """The import name a component uses: ``acme:billing/ledger@1.0.0``."""
        return f"{self.package}/{self.name}" + (f"@{self.version}" if self.version else "")

    @property
    def resources(self) -> list[str]:
        """The resources this interface defines itself (not those it ``use``s), by name."""
        return [n for n, t in self.types.items()
                if t.kind == "resource" and t.names == (self.qualified, n)]


@dataclass(frozen=True, slots=True)
class WitPackage:
    name: str
    version: str | None
    interfaces: dict[str, WitInterface]


# -- tokens ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<doc>///[^\n]*)
  | (?P<line>//[^\n]*)
  | (?P<block>/\*)
  | (?P<arrow>->)
  | (?P<id>%?[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)
  | (?P<num>[0-9][0-9A-Za-z+\-]*(?:\.[0-9A-Za-z+\-]+)*)
  | (?P<punct>[{}()<>,:;=./@*_])
""", re.VERBOSE)

_KEYWORDS = frozenset({"package", "interface", "world", "use", "type", "record", "variant", "enum",
                       "flags", "resource", "func", "as", "list", "option", "result", "tuple",
                       "import", "export", "include", "with", "static", "constructor", "async",
                       "own", "borrow", "stream", "future", "from", "bool", "s8", "u8", "s16",
                       "u16", "s32", "u32", "s64", "u64", "f32", "f64", "char", "string"})


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "id" | "num" | "punct" (text is the punctuation) | "eof"
    text: str
    line: int
    col: int


def _tokens(text: str, source: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos, line, line_start, n = 0, 1, 0, len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        col = pos - line_start + 1
        if m is None:
            raise WitError(f"unexpected character {text[pos]!r}", source=source, line=line,
                           column=col)
        kind = m.lastgroup or ""
        end = m.end()
        if kind == "block":  # block comments nest in WIT
            depth, end = 1, pos + 2
            while depth and end < n:
                if text.startswith("/*", end):
                    depth, end = depth + 1, end + 2
                elif text.startswith("*/", end):
                    depth, end = depth - 1, end + 2
                else:
                    end += 1
            if depth:
                raise WitError("unterminated block comment", source=source, line=line, column=col)
        elif kind in ("id", "num", "punct", "arrow"):
            out.append(_Tok("punct" if kind == "arrow" else kind, m.group(), line, col))
        chunk = text[pos:end]
        newlines = chunk.count("\n")
        if newlines:
            line += newlines
            line_start = pos + chunk.rindex("\n") + 1
        pos = end
    out.append(_Tok("eof", "", line, pos - line_start + 1))
    return out


# -- raw syntax (before names are resolved) -------------------------------------------------
# A raw type is a tuple: ("prim", name) | ("ref", name, tok) | ("list", T) | ("option", T) |
# ("result", T|None, T|None) | ("tuple", [T]); a raw definition: ("alias", T) |
# ("record", [(name, T)]) | ("variant", [(name, T|None)]) | ("enum", [name]) | ("flags", [name]).
_Raw = tuple


#: A package as (name, version); None in a parse = the text's own (top-level) package.
_PkgKey = tuple[str, "str | None"]


def _qualify(package: _PkgKey, interface: str) -> str:
    return f"{package[0]}/{interface}" + (f"@{package[1]}" if package[1] else "")


@dataclass
class _RawInterface:
    name: str
    tok: _Tok
    source: str
    #: The package of a nested ``package x { ... }`` block; None = the top-level package.
    package: _PkgKey | None = None
    defs: dict[str, tuple[_Raw, _Tok]] = field(default_factory=dict)
    #: local name -> (package or None for this one, interface, type name in it, token)
    uses: dict[str, tuple[_PkgKey | None, str, str, _Tok]] = field(default_factory=dict)
    funcs: dict[str, tuple[list[tuple[str, _Raw]], _Raw | None, _Tok]] = field(default_factory=dict)


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.toks = _tokens(text, source)
        self.i = 0
        self.package: tuple[str, str | None, _Tok] | None = None
        self.interfaces: dict[str, _RawInterface] = {}
        self.depth = 0
        #: ``package ns:name@v { ... }`` blocks: (name, version) -> (token, interfaces)
        self.nested: dict[_PkgKey, tuple[_Tok, dict[str, _RawInterface]]] = {}

    # token helpers
    def peek(self, ahead: int = 0) -> _Tok:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def next(self) -> _Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def fail(self, message: str, tok: _Tok | None = None) -> WitError:
        tok = tok or self.peek()
        return WitError(message, source=self.source, line=tok.line, column=tok.col)

    def at(self, text: str) -> bool:
        tok = self.peek()
        return tok.kind != "eof" and tok.text == text

    def expect(self, text: str) -> _Tok:
        tok = self.peek()
        if tok.text != text or tok.kind == "eof":
            found = "end of input" if tok.kind == "eof" else f"{tok.text!r}"
            raise self.fail(f"expected {text!r}, found {found}")
        return self.next()

    def ident(self, what: str = "a name") -> str:
        tok = self.peek()
        if tok.kind != "id":
            found = "end of input" if tok.kind == "eof" else f"{tok.text!r}"
            raise self.fail(f"expected {what}, found {found}")
        self.next()
        if tok.text.startswith("%"):
            return tok.text[1:]
        if tok.text in _KEYWORDS:
            raise self.fail(f"{tok.text!r} is a WIT keyword; write %{tok.text} to use it as {what}",
                            tok)
        return tok.text

    def version(self) -> str:
        start = self.peek()
        parts = []
        while (self.peek().kind in ("num", "id") or self.at(".") or self.at("-")) \
                and not (self.at(".") and self.peek(1).text == "{"):  # `@1.0.0.{` of a use
            parts.append(self.next().text)
            if self.peek().line != start.line:
                break
        text = "".join(parts)
        if not re.fullmatch(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+\-]+)?", text):
            raise self.fail(f"expected a semantic version like 1.0.0 after '@', found {text!r}",
                            start)
        return text

    def skip_gate(self) -> None:
        """``@since(version = 1.0.0)``, ``@unstable(feature = x)``, ``@deprecated(...)``."""
        while self.at("@"):
            self.next()
            self.ident("a feature gate")
            self.balanced("(", ")")

    def balanced(self, open_: str, close: str) -> None:
        start = self.expect(open_)
        depth = 1
        while depth:
            tok = self.next()
            if tok.kind == "eof":
                raise self.fail(f"unclosed {open_!r}", start)
            if tok.text == open_:
                depth += 1
            elif tok.text == close:
                depth -= 1

    # grammar
    def parse(self) -> None:
        while self.peek().kind != "eof":
            self.top_item(self.interfaces, None)

    def top_item(self, interfaces: dict[str, _RawInterface], package: _PkgKey | None) -> None:
        self.skip_gate()
        tok = self.peek()
        if tok.text == "package" and tok.kind == "id" and package is None:
            self.package_decl()
        elif tok.text == "interface":
            self.interface(interfaces, package)
        elif tok.text == "world":
            self.next()
            self.ident("a world name")
            self.balanced("{", "}")
        elif tok.text == "use":
            raise self.fail("a top-level `use` is not supported by host interfaces; `use` the "
                            "types inside the interface that needs them")
        else:
            raise self.fail(f"expected `package`, `interface` or `world`, found {tok.text!r}"
                            if tok.kind != "eof" else "unexpected end of input")

    def package_name(self) -> tuple[str, str | None]:
        ns = self.ident("a package namespace")
        self.expect(":")
        name = self.ident("a package name")
        while self.at(":"):  # nested namespaces: a:b:c
            self.next()
            name += ":" + self.ident("a package name")
        version = None
        if self.at("@"):
            self.next()
            version = self.version()
        return f"{ns}:{name}", version

    def package_decl(self) -> None:
        tok = self.next()
        key = self.package_name()
        if self.at("{"):  # package ns:name@v { interfaces and worlds }
            self.next()
            if key in self.nested or (self.package is not None and key == self.package[:2]):
                raise self.fail(f"package {key[0]} is declared twice in this text", tok)
            interfaces: dict[str, _RawInterface] = {}
            self.nested[key] = (tok, interfaces)
            while not self.at("}"):
                if self.peek().kind == "eof":
                    raise self.fail(f"package {key[0]} is not closed with '}}'", tok)
                self.top_item(interfaces, key)
            self.next()
            return
        if self.package is not None:
            raise self.fail("a second package declaration; one WIT text declares one package "
                            "(others go in `package ns:name { ... }` blocks)", tok)
        if self.interfaces:
            raise self.fail("the package declaration must come before the interfaces", tok)
        self.expect(";")
        self.package = (key[0], key[1], tok)

    def interface(self, interfaces: dict[str, _RawInterface], package: _PkgKey | None) -> None:
        self.next()
        tok = self.peek()
        name = self.ident("an interface name")
        if name in interfaces:
            raise self.fail(f"interface {name!r} is defined twice", tok)
        iface = _RawInterface(name, tok, self.source, package)
        interfaces[name] = iface
        self.expect("{")
        while not self.at("}"):
            if self.peek().kind == "eof":
                raise self.fail(f"interface {name!r} is not closed with '}}'", tok)
            self.item(iface)
        self.next()

    def _define(self, iface: _RawInterface, name: str, tok: _Tok, raw: _Raw) -> None:
        if name in iface.defs or name in iface.uses or name in iface.funcs:
            raise self.fail(f"{name!r} is defined twice in interface {iface.name!r}", tok)
        iface.defs[name] = (raw, tok)

    def item(self, iface: _RawInterface) -> None:
        self.skip_gate()
        tok = self.peek()
        word = tok.text if tok.kind == "id" else ""
        if word == "use":
            self.use(iface)
        elif word == "type":
            self.next()
            ntok = self.peek()
            name = self.ident("a type name")
            self.expect("=")
            self._define(iface, name, ntok, ("alias", self.type_()))
            self.expect(";")
        elif word in ("record", "variant", "enum", "flags"):
            self.next()
            ntok = self.peek()
            name = self.ident(f"a {word} name")
            self._define(iface, name, ntok, self.body(word))
        elif word == "resource":
            self.resource(iface)
        elif tok.kind == "id" and self.peek(1).text == ":":
            name = self.ident("a function name")
            self.expect(":")
            if self.at("async"):
                raise self.fail(_ASYNC_WHY)
            self.expect("func")
            params, result = self.signature()
            if name in iface.funcs or name in iface.defs or name in iface.uses:
                raise self.fail(f"{name!r} is defined twice in interface {iface.name!r}", tok)
            iface.funcs[name] = (params, result, tok)
        else:
            raise self.fail(f"expected a type definition, `use` or a function, found "
                            f"{tok.text!r}" if tok.kind != "eof" else "unexpected end of input")

    def signature(self) -> tuple[list[tuple[str, _Raw]], _Raw | None]:
        """``(params) [-> result];`` of a function."""
        params = self.params()
        result = None
        if self.at("->"):
            self.next()
            result = self.type_()
        self.expect(";")
        return params, result

    def resource(self, iface: _RawInterface) -> None:
        """``resource r;`` or ``resource r { constructor(...); m: func(...); s: static func(...); }``:
        the resource type plus its functions, named as wasm-tools names them."""
        self.next()
        ntok = self.peek()
        name = self.ident("a resource name")
        self._define(iface, name, ntok, ("resource",))
        if self.at(";"):
            self.next()
            return
        self.expect("{")
        own: _Raw = ("own", ("ref", name, ntok))
        this: tuple[str, _Raw] = ("self", ("borrow", ("ref", name, ntok)))
        fn: tuple[list[tuple[str, _Raw]], _Raw | None, _Tok]
        while not self.at("}"):
            if self.peek().kind == "eof":
                raise self.fail(f"resource {name!r} is not closed with '}}'", ntok)
            self.skip_gate()
            tok = self.peek()
            if tok.text == "constructor" and tok.kind == "id":
                self.next()
                params = self.params()
                if self.at("->"):
                    raise self.fail("a constructor with a result type (-> result<r, E>) is not "
                                    "supported; return the error from a static function instead")
                self.expect(";")
                key, fn = f"[constructor]{name}", (params, own, tok)
            else:
                method = self.ident("a method name, `constructor` or '}'")
                if method == name:  # the component model's name rules (wasm-tools agrees)
                    raise self.fail(f"a function of resource {name!r} cannot be named "
                                    f"{name!r} too", tok)
                self.expect(":")
                static = self.at("static")
                if static:
                    self.next()
                if self.at("async"):
                    raise self.fail(_ASYNC_WHY)
                self.expect("func")
                params, result = self.signature()
                if static:
                    key, fn = f"[static]{name}.{method}", (params, result, tok)
                else:
                    if any(p == "self" for p, _ in params):
                        raise self.fail("a method has an implicit `self` parameter; rename this one",
                                        tok)
                    key, fn = f"[method]{name}.{method}", ([this, *params], result, tok)
            if key in iface.funcs:
                raise self.fail(f"{key!r} is defined twice in interface {iface.name!r}", tok)
            iface.funcs[key] = fn
        self.next()

    def use(self, iface: _RawInterface) -> None:
        self.next()
        package: _PkgKey | None = None
        if self.peek(1).text == ":":  # use ns:pkg/iface@v.{...}: a package of this WIT
            package = self.package_name()
            self.expect("/")
            source = self.ident("an interface name")
            if self.at("@"):
                self.next()
                package = (package[0], self.version())
        else:
            source = self.ident("an interface name")
        self.expect(".")
        self.expect("{")
        while True:
            ntok = self.peek()
            name = self.ident("a type name")
            local = name
            if self.at("as"):
                self.next()
                local = self.ident("a type name")
            if local in iface.defs or local in iface.uses or local in iface.funcs:
                raise self.fail(f"{local!r} is defined twice in interface {iface.name!r}", ntok)
            iface.uses[local] = (package, source, name, ntok)
            if self.at(","):
                self.next()
                if self.at("}"):
                    break
                continue
            break
        self.expect("}")
        self.expect(";")

    def names_list(self, what: str) -> list[tuple[str, _Tok]]:
        self.expect("{")
        out: list[tuple[str, _Tok]] = []
        while not self.at("}"):
            tok = self.peek()
            out.append((self.ident(what), tok))
            if not self.at("}"):
                self.expect(",")
        self.next()
        return out

    def body(self, word: str) -> _Raw:
        start = self.peek()
        if word in ("enum", "flags"):
            names = self.names_list("a case name" if word == "enum" else "a flag name")
            self._unique(names, word)
            if not names:
                raise self.fail(f"an empty {word} is not valid WIT", start)
            return (word, [n for n, _ in names])
        self.expect("{")
        items: list[tuple[str, _Raw | None]] = []
        seen: list[tuple[str, _Tok]] = []
        while not self.at("}"):
            tok = self.peek()
            name = self.ident("a field name" if word == "record" else "a case name")
            seen.append((name, tok))
            if word == "record":
                self.expect(":")
                items.append((name, self.type_()))
            elif self.at("("):
                self.next()
                items.append((name, self.type_()))
                self.expect(")")
            else:
                items.append((name, None))
            if not self.at("}"):
                self.expect(",")
        self.next()
        self._unique(seen, word)
        if not items:
            raise self.fail(f"an empty {word} is not valid WIT", start)
        return (word, items)

    def _unique(self, names: list[tuple[str, _Tok]], word: str) -> None:
        seen: set[str] = set()
        for name, tok in names:
            if name in seen:
                raise self.fail(f"{name!r} appears twice in this {word}", tok)
            seen.add(name)

    def params(self) -> list[tuple[str, _Raw]]:
        self.expect("(")
        out: list[tuple[str, _Raw]] = []
        seen: list[tuple[str, _Tok]] = []
        while not self.at(")"):
            tok = self.peek()
            name = self.ident("a parameter name")
            seen.append((name, tok))
            self.expect(":")
            out.append((name, self.type_()))
            if not self.at(")"):
                self.expect(",")
        self.next()
        self._unique(seen, "parameter list")
        return out

    def type_(self) -> _Raw:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self.fail(f"types nested more than {MAX_DEPTH} deep")
            return self.type_inner()
        finally:
            self.depth -= 1

    def type_inner(self) -> _Raw:
        tok = self.peek()
        if tok.kind != "id":
            raise self.fail(f"expected a type, found {tok.text!r}" if tok.kind != "eof"
                            else "expected a type, found end of input")
        word = tok.text
        if word in PRIMITIVES:
            self.next()
            return ("prim", word)
        if word in _UNSUPPORTED_TYPES:
            raise self.fail(f"{_UNSUPPORTED_TYPES[word]} ({word}) are not supported by airssys "
                            "host functions")
        if word in ("own", "borrow"):
            self.next()
            self.expect("<")
            rtok = self.peek()
            handle: _Raw = (word, ("ref", self.ident("a resource name"), rtok))
            self.expect(">")
            return handle
        if word in ("list", "option"):
            self.next()
            self.expect("<")
            inner = self.type_()
            if word == "list" and self.at(","):
                raise self.fail("fixed-size lists (list<T, N>) are not supported")
            self.expect(">")
            return (word, inner)
        if word == "tuple":
            self.next()
            self.expect("<")
            items = [self.type_()]
            while self.at(","):
                self.next()
                items.append(self.type_())
            self.expect(">")
            return ("tuple", items)
        if word == "result":
            self.next()
            if not self.at("<"):
                return ("result", None, None)
            self.next()
            ok: _Raw | None = None
            if self.at("_"):
                self.next()
            else:
                ok = self.type_()
            err: _Raw | None = None
            if self.at(","):
                self.next()
                err = self.type_()
            self.expect(">")
            return ("result", ok, err)
        return ("ref", self.ident("a type"), tok)


# -- resolution -----------------------------------------------------------------------------

class _Resolver:
    """Resolves the raw interfaces of every package of one parse (keyed by qualified name)."""

    def __init__(self, raws: dict[str, _RawInterface], packages: dict[str, _PkgKey],
                 main: _PkgKey | None) -> None:
        self.raws = raws
        self.package_of = packages  # qualified interface name -> its package
        self.main = main
        self.done: dict[tuple[str, str], WitType] = {}
        self.busy: set[tuple[str, str]] = set()
        #: id(type) -> nesting depth of every type built here (renderers and plans recurse,
        #: so a resolved type may not nest deeper than MAX_DEPTH, counting named types).
        self.depths: dict[int, int] = {}
        self.keep: list[WitType] = []  # keeps the ids in ``depths`` unique
        self.where: tuple[_Tok, str] | None = None

    def mk(self, t: WitType) -> WitType:
        children = [c for c in t.args if c is not None] + [c for _, c in t.fields if c is not None]
        depth = 1 + max((self.depths[id(c)] for c in children), default=0)
        if depth > MAX_DEPTH:
            assert self.where is not None
            raise self.fail(f"types nested more than {MAX_DEPTH} deep (counting named types)",
                            *self.where)
        self.depths[id(t)] = depth
        self.keep.append(t)
        return t

    @staticmethod
    def fail(message: str, tok: _Tok, source: str) -> WitError:
        return WitError(message, source=source, line=tok.line, column=tok.col)

    def named(self, iface: str, name: str, tok: _Tok) -> WitType:
        key = (iface, name)
        if key in self.done:
            return self.done[key]
        raw_iface = self.raws[iface]
        if key in self.busy:
            raise self.fail(f"type {name!r} refers to itself (recursive types are not valid WIT)",
                            tok, raw_iface.source)
        if len(self.busy) >= MAX_NAMED_CHAIN:
            raise self.fail(f"more than {MAX_NAMED_CHAIN} named types refer to one another in a "
                            "chain", tok, raw_iface.source)
        self.busy.add(key)
        outer, self.where = self.where, (tok, raw_iface.source)
        try:
            if name in raw_iface.uses:
                package, src, orig, utok = raw_iface.uses[name]
                target_iface = _qualify(package or self.package_of[iface], src)
                if target_iface not in self.raws:
                    where = ("this package has no interface " + repr(src) if package is None
                             else f"{target_iface} is not part of this WIT (put its package in "
                                  "the same folder, or declare the types here)")
                    raise self.fail(f"`use {src}.{{...}}`: {where}", utok, raw_iface.source)
                source = self.raws[target_iface]
                if orig not in source.defs and orig not in source.uses:
                    raise self.fail(f"interface {src!r} has no type {orig!r}", utok,
                                    raw_iface.source)
                target = self.named(target_iface, orig, utok)
                result = self.mk(WitType(target.kind, name, target.args, target.fields,
                                         target.names))  # a resource keeps its owner in names
            elif name in raw_iface.defs:
                raw, dtok = raw_iface.defs[name]
                result = self.definition(iface, name, raw)
            else:
                raise self.fail(f"unknown type {name!r} in interface {raw_iface.name!r}", tok,
                                raw_iface.source)
        finally:
            self.busy.discard(key)
            self.where = outer
        self.done[key] = result
        return result

    def definition(self, iface: str, name: str, raw: _Raw) -> WitType:
        kind = raw[0]
        if kind == "resource":
            return self.mk(WitType("resource", name, names=(iface, name)))
        if kind == "alias":
            # `type r2 = r;` of a resource names the same resource (not an own handle of it)
            target = (self.named(iface, raw[1][1], raw[1][2]) if raw[1][0] == "ref"
                      else self.type_(iface, raw[1]))
            return self.mk(WitType(target.kind, name, target.args, target.fields, target.names))
        if kind in ("enum", "flags"):
            return self.mk(WitType(kind, name, names=tuple(raw[1])))
        fields = tuple((n, None if t is None else self.type_(iface, t)) for n, t in raw[1])
        return self.mk(WitType(kind, name, fields=fields))

    def type_(self, iface: str, raw: _Raw) -> WitType:
        kind = raw[0]
        if kind == "prim":
            return self.mk(WitType(raw[1]))
        if kind == "ref":
            target = self.named(iface, raw[1], raw[2])
            if target.kind == "resource":  # a bare resource name is an own handle
                return self.mk(WitType("own", args=(target,)))
            return target
        if kind in ("own", "borrow"):
            target = self.named(iface, raw[1][1], raw[1][2])
            if target.kind != "resource":
                assert self.where is not None
                raise self.fail(f"{kind}<{raw[1][1]}>: {raw[1][1]!r} is not a resource (it is "
                                f"a {target.kind} type)", raw[1][2], self.where[1])
            return self.mk(WitType(kind, args=(target,)))
        if kind in ("list", "option"):
            return self.mk(WitType(kind, args=(self.type_(iface, raw[1]),)))
        if kind == "tuple":
            return self.mk(WitType("tuple", args=tuple(self.type_(iface, t) for t in raw[1])))
        ok, err = raw[1], raw[2]
        return self.mk(WitType("result", args=(None if ok is None else self.type_(iface, ok),
                                               None if err is None else self.type_(iface, err))))

    def interface(self, qualified: str) -> WitInterface:
        raw = self.raws[qualified]
        package, version = self.package_of[qualified]
        types = {n: self.named(qualified, n, tok) for n, (_, tok) in raw.defs.items()}
        types.update({n: self.named(qualified, n, tok) for n, (_, _, _, tok) in raw.uses.items()})
        funcs = {}
        for name, (params, result, tok) in raw.funcs.items():
            self.where = (tok, raw.source)
            funcs[name] = WitFunction(
                name, tuple((p, self.type_(qualified, t)) for p, t in params),
                None if result is None else self.type_(qualified, result))
            if _has_borrow(funcs[name].result):
                raise self.fail(f"function `{name}` returns a type that contains a borrow<...>; "
                                "a result can only carry own handles", tok, raw.source)
        return WitInterface(package, version, raw.name, funcs, types)


def _has_borrow(t: WitType | None) -> bool:
    if t is None or t.kind == "resource":
        return False
    return t.kind == "borrow" or any(_has_borrow(c) for c in t.args) \
        or any(_has_borrow(c) for _, c in t.fields)


def parse_wit(text: str, *, source: str = "<wit>") -> WitPackage:
    """Parse one WIT text; its top-level package (``package ns:name@v;``). Raises
    :class:`WitError` with line and column."""
    if not isinstance(text, str):
        raise TypeError(f"WIT text must be a str, not {type(text).__name__}")
    return _main(_finish([_parsed(text, source)], source), source)


def _parsed(text: str, source: str) -> _Parser:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_WIT_BYTES:
        raise WitError(f"WIT text is over {MAX_WIT_BYTES} bytes", source=source)
    parser = _Parser(text, source)
    parser.parse()
    return parser


def _package_id(key: _PkgKey) -> str:
    return key[0] + (f"@{key[1]}" if key[1] else "")


def _main(packages: tuple[_PkgKey | None, dict[str, WitPackage]], where: str) -> WitPackage:
    main, found = packages
    if main is None:
        raise WitError("no package declaration; start the WIT with `package ns:name@1.0.0;`",
                       source=where)
    return found[_package_id(main)]


def _finish(parsers: list[_Parser], where: str) -> tuple[_PkgKey | None, dict[str, WitPackage]]:
    """(the top-level package, every package by ``ns:name@version``) of the parsed files: one
    folder is one top-level package, plus any ``package x { ... }`` blocks."""
    main: tuple[str, str | None, _Tok, str] | None = None
    for parser in parsers:
        if parser.package is not None:
            name, version, tok = parser.package
            if main is not None and (main[0], main[1]) != (name, version):
                raise WitError(f"package {name}@{version} differs from {main[0]}@{main[1]} "
                               f"declared in {main[3]}; one folder is one package",
                               source=parser.source, line=tok.line, column=tok.col)
            main = (name, version, tok, parser.source)
    main_key = None if main is None else (main[0], main[1])
    raws: dict[str, _RawInterface] = {}
    package_of: dict[str, _PkgKey] = {}

    def add(key: _PkgKey, interfaces: dict[str, _RawInterface]) -> None:
        for iname, raw in interfaces.items():
            qualified = _qualify(key, iname)
            if qualified in raws:
                raise WitError(f"interface {iname!r} is defined twice in package {key[0]}",
                               source=raw.source, line=raw.tok.line, column=raw.tok.col)
            raws[qualified] = raw
            package_of[qualified] = key

    for parser in parsers:
        if parser.interfaces:
            if main_key is None:
                first = next(iter(parser.interfaces.values()))
                raise WitError("no package declaration for these interfaces; start the WIT "
                               "with `package ns:name@1.0.0;`", source=parser.source,
                               line=first.tok.line, column=first.tok.col)
            add(main_key, parser.interfaces)
        for key, (tok, interfaces) in parser.nested.items():
            if key == main_key:
                raise WitError(f"package {key[0]} is both the top-level package and a nested "
                               "block", source=parser.source, line=tok.line, column=tok.col)
            add(key, interfaces)
    resolver = _Resolver(raws, package_of, main_key)
    packages: dict[str, dict[str, WitInterface]] = {}
    keys: dict[str, _PkgKey] = {}
    if main_key is not None:
        packages[_package_id(main_key)] = {}
        keys[_package_id(main_key)] = main_key
    for qualified, raw in raws.items():
        key = package_of[qualified]
        packages.setdefault(_package_id(key), {})[raw.name] = resolver.interface(qualified)
        keys[_package_id(key)] = key
    return main_key, {pid: WitPackage(keys[pid][0], keys[pid][1], ifaces)
                      for pid, ifaces in packages.items()}


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(p for p in path.iterdir() if p.suffix == ".wit" and p.is_file())
    else:
        yield path


def _load(path: str | os.PathLike[str]) -> tuple[_PkgKey | None, dict[str, WitPackage]]:
    root = Path(path)
    if not root.exists():
        raise WitError(f"no WIT file or folder at {os.fspath(path)!r}", source=os.fspath(path))
    parsers = []
    total = 0
    for file in _files(root):
        try:
            with open_regular(file) as fh:
                raw = fh.read(MAX_WIT_BYTES - total + 1)
        except OSError as exc:
            raise WitError(f"cannot read {file}: {exc.strerror or exc}", source=str(file)) from None
        total += len(raw)
        if total > MAX_WIT_BYTES:
            raise WitError(f"WIT input is over {MAX_WIT_BYTES} bytes", source=str(file))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WitError(f"not UTF-8 ({exc.reason} at byte {exc.start})",
                           source=str(file)) from None
        parsers.append(_parsed(text, str(file)))
    if not parsers:
        raise WitError(f"folder {os.fspath(path)!r} has no .wit files", source=os.fspath(path))
    return _finish(parsers, os.fspath(path))


def load_wit(path: str | os.PathLike[str]) -> WitPackage:
    """Parse a ``.wit`` file, or every ``*.wit`` file of a folder: its top-level package."""
    return _main(_load(path), os.fspath(path))


def load_wit_packages(path: str | os.PathLike[str]) -> dict[str, WitPackage]:
    """Every package of a ``.wit`` file or folder (top-level and ``package x { ... }``
    blocks), by ``ns:name@version``."""
    return _load(path)[1]


# -- agreement with a guest's imported types ------------------------------------------------

def _wt_children(decl: WitType, ty: Any) -> list[tuple[str, WitType | None, object]] | None:
    """Pairs of (path step, declared, guest type) to compare one level down, or None when
    the two are not the same kind of type (then the whole node is the disagreement)."""
    k = decl.kind
    if k == "list" and isinstance(ty, wc.ListType):
        return [("[]", decl.args[0], ty.element)]
    if k == "option" and isinstance(ty, wc.OptionType):
        return [("?", decl.args[0], ty.payload)]
    if k == "result" and isinstance(ty, wc.ResultType):
        return [(".ok", decl.args[0], ty.ok), (".err", decl.args[1], ty.err)]
    if k == "tuple" and isinstance(ty, wc.TupleType) and len(ty.elements) == len(decl.args):
        return [(f".{i}", d, t) for i, (d, t) in enumerate(zip(decl.args, ty.elements))]
    if k == "record" and isinstance(ty, wc.RecordType) \
            and [n for n, _ in ty.fields] == [n for n, _ in decl.fields]:
        return [(f".{n}", d, t) for (n, d), (_, t) in zip(decl.fields, ty.fields)]
    if k == "variant" and isinstance(ty, wc.VariantType) \
            and [n for n, _ in ty.cases] == [n for n, _ in decl.fields]:
        return [(f".{n}", d, t) for (n, d), (_, t) in zip(decl.fields, ty.cases)]
    return None


def _resource_diff(path: str, decl: WitType, ty: Any,
                   resources: Mapping[str, Any] | None) -> str | None:
    """For handles: whether the guest's handle is of the declared resource (by name)."""
    if resources is None or decl.kind not in ("own", "borrow") \
            or not isinstance(ty, (wc.OwnType, wc.BorrowType)):
        return None
    res = decl.args[0]
    assert res is not None
    guest = [name for name, rt in resources.items() if rt == ty.ty]
    if res.names[1:] == tuple(guest[:1]):
        return None
    return (f"{path}: declared a handle of resource {res.names[1]!r}, the guest's is of "
            + (repr(guest[0]) if guest else "a resource of another interface"))


def _type_diff(path: str, decl: WitType | None, ty: Any,
               resources: Mapping[str, Any] | None = None) -> str | None:
    if decl is None or ty is None:
        if decl is None and ty is None:
            return None
        return (f"{path}: declared {'nothing' if decl is None else decl.wit()}, the guest has "
                f"{'nothing' if ty is None else render_type(ty)}")
    found = render_type(ty)
    if decl.structural() == found and (resources is None or "resource" not in found):
        return None
    if decl.structural() == found and decl.kind in ("own", "borrow"):
        return _resource_diff(path, decl, ty, resources)
    children = _wt_children(decl, ty)
    if children is not None:
        for step, d, t in children:
            diff = _type_diff(path + step, d, t, resources)
            if diff is not None:
                return diff
        if decl.structural() == found:
            return None
    return f"{path}: declared {decl.structural()}, the guest has {found}"


def describe_mismatch(func: WitFunction, functype: wc.FuncType,
                      resources: Mapping[str, Any] | None = None) -> str | None:
    """None when a guest's imported ``wasmtime.component.FuncType`` is the declared function;
    else the first disagreement, naming the parameter or result and the field path in it
    (``parameter 'm'.cents: declared u64, the guest has u32``). With ``resources`` (the
    guest's resource name -> ResourceType of this interface) a handle must also be of the
    declared resource."""
    params = list(functype.params)
    if [n for n, _ in params] != [n for n, _ in func.params]:
        return (f"parameters: declared ({', '.join(n for n, _ in func.params)}), the guest has "
                f"({', '.join(n for n, _ in params)})")
    for (name, decl), (_, ty) in zip(func.params, params):
        diff = _type_diff(f"parameter '{name}'", decl, ty, resources)
        if diff is not None:
            return diff
    return _type_diff("result", func.result, functype.result, resources)
