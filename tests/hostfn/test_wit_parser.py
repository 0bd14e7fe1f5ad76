"""The pure-Python WIT parser against the reference, ``wasm-tools component wit --json``.

Each text is resolved by both; every function's structural signature (what the host compares
with a guest's imports) must be the same. Texts are hand-written (every construct host
interfaces support) and generated (hypothesis builds random type trees and their WIT).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airssys_wasm.errors import WitError
from airssys_wasm.runtime import wit_dir
from airssys_wasm.runtime.wit_parser import load_wit, load_wit_packages, parse_wit

from hostfn_guests import wasm_tools

PRIMS = ["bool", "s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64", "f32", "f64", "char",
         "string"]


def _ref_type(t: Any, types: list[dict[str, Any]]) -> str:
    """Structural text of a wasm-tools JSON type reference, written independently of
    WitType.structural (a table of renderers over the JSON shapes)."""
    if t is None:
        return "_"
    if isinstance(t, str):
        return t
    (k, v), = types[t]["kind"].items()

    def r(x: Any) -> str:
        return _ref_type(x, types)

    def body(items: list[str]) -> str:
        return "{ " + ", ".join(items) + " }"

    render = {
        "type": lambda: r(v),
        "list": lambda: f"list<{r(v)}>",
        "option": lambda: f"option<{r(v)}>",
        "result": lambda: f"result<{r(v['ok'])}, {r(v['err'])}>",
        "tuple": lambda: f"tuple<{', '.join(map(r, v['types']))}>",
        "record": lambda: "record " + body([f"{f['name']}: {r(f['type'])}" for f in v["fields"]]),
        "variant": lambda: "variant " + body([c["name"] + ("" if c["type"] is None
                                                           else f"({r(c['type'])})")
                                              for c in v["cases"]]),
        "enum": lambda: "enum " + body([c["name"] for c in v["cases"]]),
        "flags": lambda: "flags " + body([c["name"] for c in v["flags"]]),
        "handle": lambda: f"{next(iter(v))}<resource>",  # {"own": id} / {"borrow": id}
    }
    return render[k]()


def reference(path: Path) -> dict[str, dict[str, str]]:
    """{qualified interface: {function: structural signature}} according to wasm-tools."""
    out = subprocess.run([*wasm_tools(), "component", "wit", "--json", str(path)],
                         check=True, capture_output=True).stdout
    doc = json.loads(out)
    types = doc["types"]
    result = {}
    for iface in doc["interfaces"]:
        package = doc["packages"][iface["package"]]["name"]
        name, _, version = package.partition("@")
        qualified = f"{name}/{iface['name']}" + (f"@{version}" if version else "")
        funcs = {}
        for fname, f in iface["functions"].items():
            params = ", ".join(f"{p['name']}: {_ref_type(p['type'], types)}" for p in f["params"])
            result_t = f.get("result")
            funcs[fname] = f"func({params})" + ("" if result_t is None
                                                else f" -> {_ref_type(result_t, types)}")
        result[qualified] = funcs
    return result


def ours(path: Path) -> dict[str, dict[str, str]]:
    package = load_wit(path)
    return {i.qualified: {n: f.structural() for n, f in i.functions.items()}
            for i in package.interfaces.values()}


HAND_WRITTEN = """// A line comment before the package.
package acme:billing@1.2.3-rc.1;

/* A block /* nested */ comment. */
/// The shared types.
interface types {
    /// Money in cents.
    record money { cents: u64, currency: string, }
    type amount = money;
    enum kind { debit, credit }
    flags perms { read, write, %list }
    variant event { opened(string), closed, moved(tuple<u32, option<amount>>) }
}

interface ledger {
    use types.{money, amount as amt, kind, perms, event};
    type ids = list<u64>;

    charge: func(account: string, m: amt) -> result<u64, string>;
    refund: func(id: u64) -> result;
    check: func(id: u64) -> result<_, event>;
    peek: func() -> option<tuple<u8, s8, char, bool>>;
    bulk: func(data: list<u8>, all: ids, k: kind, p: perms) -> list<result<money>>;
    floats: func(a: f32, b: f64, c: s16, d: u16, e: s32, f: s64) -> f64;
    noop: func();
}

world unused {
    import ledger;
    export types;
}
"""


def test_hand_written_matches_reference(tmp_path: Path) -> None:
    path = tmp_path / "billing.wit"
    path.write_text(HAND_WRITTEN)
    assert ours(path) == reference(path)
    assert set(ours(path)) == {"acme:billing/types@1.2.3-rc.1", "acme:billing/ledger@1.2.3-rc.1"}


def test_the_airssys_wit_matches_reference() -> None:
    """The shipped WIT: nested package blocks, `use` across packages, every built-in interface."""
    found = {i.qualified: {n: f.structural() for n, f in i.functions.items()}
             for p in load_wit_packages(wit_dir()).values() for i in p.interfaces.values()}
    expected = reference(wit_dir())
    assert found == expected
    assert "airssys:ext-storage/storage@1.0.0" in found and "airssys:core/host-services@1.0.0" in found


def test_nested_packages_and_cross_package_use(tmp_path: Path) -> None:
    path = tmp_path / "nested.wit"
    path.write_text("package acme:app@2.0.0;\n"
                    "interface api { use acme:shared/types@0.3.0.{id}; get: func(i: id) -> id; }\n"
                    "package acme:shared@0.3.0 {\n  interface types { type id = tuple<u32, string>; }\n}\n")
    assert ours(path) == {k: v for k, v in reference(path).items() if k.startswith("acme:app")}
    assert set(load_wit_packages(path)) == {"acme:app@2.0.0", "acme:shared@0.3.0"}


RESOURCES = """package acme:files@0.2.0;

interface fs {
    record stat { size: u64, kind: entry-kind }
    enum entry-kind { file, dir }
    /// An open file: every kind of resource function.
    resource file-handle {
        constructor(path: string, create: bool);
        read: func(n: u32) -> result<list<u8>, string>;
        stat: func() -> stat;
        %clone: func() -> file-handle;
        open-many: static func(paths: list<string>) -> list<own<file-handle>>;
        same: static func(a: borrow<file-handle>, b: borrow<file-handle>) -> bool;
    }
    resource empty;
    type alias-handle = file-handle;
    close-all: func(files: list<file-handle>, extra: option<alias-handle>);
    peek: func(f: borrow<file-handle>, e: borrow<empty>) -> tuple<file-handle, empty>;
}

interface user {
    use fs.{file-handle as fh};
    wrap: func(f: fh) -> result<fh, string>;
}
"""


def test_resources_match_reference(tmp_path: Path) -> None:
    path = tmp_path / "files.wit"
    path.write_text(RESOURCES)
    found = ours(path)
    assert found == reference(path)
    fs = found["acme:files/fs@0.2.0"]
    assert fs["[constructor]file-handle"] == "func(path: string, create: bool) -> own<resource>"
    assert fs["[method]file-handle.read"] == ("func(self: borrow<resource>, n: u32) -> "
                                              "result<list<u8>, string>")
    assert "[static]file-handle.open-many" in fs and "[method]file-handle.clone" in fs
    iface = load_wit(path).interfaces["fs"]
    assert iface.resources == ["file-handle", "empty"]
    user = load_wit(path).interfaces["user"]
    assert user.resources == []  # `use`d, owned by fs
    (_, fh), = user.functions["wrap"].params
    assert fh.kind == "own" and fh.args[0] is not None and fh.args[0].names == (
        "acme:files/fs@0.2.0", "file-handle")
    assert user.functions["wrap"].signature() == "wrap: func(f: fh) -> result<fh, string>"


def test_folder_is_one_package(tmp_path: Path) -> None:
    (tmp_path / "a.wit").write_text("package acme:multi@0.1.0;\ninterface a { record r { x: u8 } }\n")
    (tmp_path / "b.wit").write_text("interface b { use a.{r}; f: func(v: r) -> r; }\n")
    assert ours(tmp_path) == reference(tmp_path)


# -- generated texts ------------------------------------------------------------------------

_names = st.from_regex(r"[a-z]{1,6}(-[a-z0-9]{1,4})?", fullmatch=True).filter(
    lambda n: n not in {"list", "option", "result", "tuple", "record", "variant", "enum", "flags",
                        "type", "use", "func", "as", "own", "borrow", "stream", "future",
                        "from", "static", "interface", "world", "package", "import", "export",
                        "include", "with", "resource", "constructor", "async", "bool", "char",
                        "string", "s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64", "f32",
                        "f64", "error-context", "borrow", "await"})


@st.composite
def _interface(draw: st.DrawFn) -> str:
    """WIT text of one package: named types built on earlier ones, and functions using them."""
    named: list[str] = []
    defs: list[str] = []

    def anonymous(depth: int) -> st.SearchStrategy[str]:
        leaves = st.sampled_from(PRIMS + named) if named else st.sampled_from(PRIMS)
        if depth == 0:
            return leaves
        inner = anonymous(depth - 1)
        return st.one_of(
            leaves,
            inner.map(lambda t: f"list<{t}>"),
            inner.map(lambda t: f"option<{t}>"),
            st.tuples(st.one_of(st.just("_"), inner), st.one_of(st.none(), inner)).map(
                lambda p: "result" if p == ("_", None) else
                f"result<{p[0]}>" if p[1] is None else f"result<{p[0]}, {p[1]}>"),
            st.lists(inner, min_size=1, max_size=3).map(lambda ts: f"tuple<{', '.join(ts)}>"),
        )

    used = set()
    resources = draw(st.lists(_names, max_size=2, unique=True))
    for rname in resources:  # own handles of them can appear anywhere below
        used.add(rname)
        members = draw(st.lists(_names.filter(lambda n, r=rname: n != r), max_size=3,
                                unique=True))
        lines = [f"        {m}: {draw(st.sampled_from(['', 'static ']))}func(x: u8) -> {rname};"
                 for m in members]
        if draw(st.booleans()):
            lines.append(f"        constructor(v: borrow<{rname}>);")
        defs.append(f"    resource {rname} {{\n" + "\n".join(lines) + "\n    }")
        named.append(rname)
    for i in range(draw(st.integers(0, 4))):
        name = draw(_names.filter(lambda n: n not in used))
        used.add(name)
        kind = draw(st.sampled_from(["record", "variant", "enum", "flags", "alias"]))
        if kind in ("record", "variant"):
            members = draw(st.lists(_names, min_size=1, max_size=3, unique=True))
            if kind == "record":
                body = ", ".join(f"{m}: {draw(anonymous(2))}" for m in members)
            else:
                body = ", ".join(m if draw(st.booleans()) else f"{m}({draw(anonymous(2))})"
                                 for m in members)
            defs.append(f"    {kind} {name} {{ {body} }}")
        elif kind in ("enum", "flags"):
            members = draw(st.lists(_names, min_size=1, max_size=4, unique=True))
            defs.append(f"    {kind} {name} {{ {', '.join(members)} }}")
        else:
            defs.append(f"    type {name} = {draw(anonymous(2))};")
        named.append(name)
    funcs = []
    for fname in draw(st.lists(_names.filter(lambda n: n not in used), min_size=1, max_size=3,
                               unique=True)):
        params = draw(st.lists(_names, max_size=3, unique=True))
        borrows = st.sampled_from([f"borrow<{r}>" for r in resources]) if resources else None
        sig = ", ".join(f"{p}: {draw(anonymous(2) if borrows is None else st.one_of(anonymous(2), borrows))}"
                        for p in params)
        result = draw(st.one_of(st.none(), anonymous(2)))
        funcs.append(f"    {fname}: func({sig})" + ("" if result is None else f" -> {result}") + ";")
    return ("package gen:erated@1.0.0;\n\ninterface probe {\n" + "\n".join(defs) + "\n"
            + "\n".join(funcs) + "\n}\n")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(text=_interface())
def test_generated_match_reference(tmp_path: Path, text: str) -> None:
    path = tmp_path / "gen.wit"
    path.write_text(text)
    assert ours(path) == reference(path), text


# -- errors ---------------------------------------------------------------------------------

#: Errors inside ``interface x { ... }`` of package a:b: body | line:column | message part.
_BODY_ERRORS = """
f: func(a: foo);          | 3:14 | unknown type 'foo'
f: func(h: borrow<r>);    | 3:21 | unknown type 'r'
enum r { a } g: func(h: own<r>);   | 3:31 | 'r' is not a resource
resource r { constructor() -> u8; } | 3:30 | constructor with a result type
resource r { f: func(self: u8); }  | 3:16 | implicit `self`
resource r { f: async func(); }    | 3:19 | async func
resource r { f: func(); f: func(); } | 3:27 | defined twice
resource r; f: func() -> option<borrow<r>>; | 3:15 | contains a borrow
resource r { r: static func(); } | 3:16 | cannot be named 'r' too
f: func() -> stream<u8>;  | 3:16 | streams
f: async func();          | 3:6  | async func
f: func(a: u8, a: u8);    | 3:18 | appears twice
record r { a: r }         | 3:17 | refers to itself
f: func()                 | 4:1  | expected ';'
use y.{t};                | 3:10 | no interface 'y'
use wasi:io/streams.{t};  | 3:24 | wasi:io/streams is not part of this WIT
f: func(type: u8);        | 3:11 | %type
enum e {}                 | 3:10 | empty enum
"""
#: Errors of whole texts: (text, line, column, message part).
_TEXT_ERRORS = [
    ("package a:b;\npackage c:d { interface y {} }\ninterface x {\n  use c:d/y.{t};\n}", 4, 14,
     "interface 'y' has no type 't'"),
    ("package a:b@1;\n", 1, 13, "semantic version"),
    ("interface x {}\n", 1, 11, "no package declaration"),
    ("package a:b;\npackage c:d { interface y {} }\npackage c:d { }", 3, 1, "declared twice"),
    ("package a:b;\n/* open", 2, 1, "unterminated block comment"),
    ("package a:b;\ninterface x { f: func() -> u8; }\ninterface x {}", 3, 11, "defined twice"),
    ("package a:b;\ninterface x { # }", 2, 15, "unexpected character"),
]


def _cases() -> list[tuple[str, int, int, str]]:
    cases = list(_TEXT_ERRORS)
    for row in _BODY_ERRORS.strip().splitlines():
        body, where, needle = (part.strip() for part in row.split("|"))
        line, column = map(int, where.split(":"))
        cases.append((f"package a:b;\ninterface x {{\n  {body}\n}}", line, column, needle))
    return cases


@pytest.mark.parametrize("text,line,column,needle", _cases())
def test_errors_name_line_and_column(text: str, line: int, column: int, needle: str) -> None:
    with pytest.raises(WitError) as info:
        parse_wit(text)
    assert needle in str(info.value)
    assert (info.value.line, info.value.column) == (line, column), str(info.value)


def test_error_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.wit"
    path.write_text("package a:b;\ninterface x { f: func(a: nope); }\n")
    with pytest.raises(WitError, match=r"bad\.wit:2:26: unknown type 'nope'"):
        load_wit(path)
    with pytest.raises(WitError, match="no WIT file or folder"):
        load_wit(tmp_path / "missing.wit")


_FRAGMENTS = ["package", "interface", "world", "use", "type", "record", "variant", "enum",
              "flags", "func", "->", "list", "option", "result", "tuple", "a:b", "x", "%type",
              "@1.0.0", "{", "}", "(", ")", "<", ">", ",", ":", ";", "=", ".", "/", "_", "*",
              "u8", "string", "//c\n", "/*", "*/", "///d\n", "\n", " ", "@since(version = 1.0.0)"]


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=3)), max_size=40))
def test_any_text_parses_or_is_a_wit_error(pieces: list[str]) -> None:
    """Whatever the text, the parser answers with a package or a WitError with a position."""
    text = " ".join(pieces)
    try:
        package = parse_wit(text)
    except WitError as exc:
        assert exc.line >= 0 and exc.column >= 0
    else:
        assert package.name


def test_deep_nesting_is_a_wit_error() -> None:
    deep = "list<" * 1000 + "u8" + ">" * 1000
    with pytest.raises(WitError, match="nested more than 64 deep"):
        parse_wit(f"package a:b;\ninterface x {{ f: func() -> {deep}; }}")
    ok = "list<" * 60 + "u8" + ">" * 60
    assert parse_wit(f"package a:b;\ninterface x {{ f: func() -> {ok}; }}").interfaces["x"]


def test_deep_nesting_through_named_types_is_a_wit_error() -> None:
    # Each alias is shallow; together they nest 40 * 5 levels: refused, not a RecursionError.
    defs = ["    type t0 = u8;"] + [f"    type t{i} = list<list<list<list<t{i - 1}>>>>;"
                                   for i in range(1, 41)]
    text = "package a:b;\ninterface x {\n" + "\n".join(defs) + "\n    f: func() -> t40;\n}\n"
    with pytest.raises(WitError, match="nested more than 64 deep"):
        parse_wit(text)


def test_long_alias_chain_is_a_wit_error() -> None:
    defs = ["    type t0 = u8;"] + [f"    type t{i} = t{i - 1};" for i in range(1, 5000)]
    # Defined last-first, so resolving t4999 walks the whole chain.
    text = ("package a:b;\ninterface x {\n" + "\n".join(reversed(defs))
            + "\n    f: func() -> t4999;\n}\n")
    with pytest.raises(WitError, match="more than 128 named types"):
        parse_wit(text)
    short = ("package a:b;\ninterface x {\n" + "\n".join(reversed(defs[:100]))
             + "\n    f: func() -> t99;\n}\n")
    assert parse_wit(short).interfaces["x"].functions["f"].structural() == "func() -> u8"
