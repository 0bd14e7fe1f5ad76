"""Your own host functions: a WIT interface implemented in Python, granted per component.

An embedder describes the interface in WIT and implements its functions in Python::

    host.provide(WIT, Ledger(), interface="acme:billing/ledger@1.0.0")
    # or up front: HostConfig(interfaces=[HostInterface(WIT, Ledger())])

Everything that can be wrong is found here, at registration (a WIT that does not parse, a
missing function, a wrong arity, a name registered twice), or at spawn (a guest whose imported
types disagree with the WIT, an import the manifest does not grant) — never at a call.

Calls take the same path as the built-in ext interfaces: ``ComponentArtifact.define_imports``
compiles the conversion plans from the guest's own import types and registers C trampolines
(one way to define host functions). What runs per call:

- a plain ``def``: the trampoline calls the embedder's function itself; :func:`caller` reads
  the calling Store's HostServices only when asked;
- for a component whose manifest sets ``[quota] interface_calls_per_second``, its
  ``HostServices.call_gate`` first asks the security provider (``check(name, "interfaces",
  "iface#func", amount=1)``: charged and audited like every other decision);
- an exception the embedder declared in ``errors`` becomes the WIT ``result``'s error value;
  any other exception traps the guest with kind ``host_error`` and is logged with its
  traceback (logger ``airssys_wasm.host_functions``) — the host keeps running, the supervisor
  restarts the component;
- ``async def`` implementations suspend only the calling guest (``runtime.suspend``).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airssys_wasm._fast.fastcall import current_data
from airssys_wasm.errors import ConfigError, LoadError, PermissionDenied, QuotaExceeded
from airssys_wasm.host.policy import RESOURCE_EXHAUSTED, SecurityProvider
from airssys_wasm.runtime import ComponentArtifact, HostServices, suspend
from airssys_wasm.runtime.wit import wit_dir
from airssys_wasm.types import ComponentId, ExecutionContext

if TYPE_CHECKING:
    # The WIT parser is imported by the functions below that parse or compare WIT: only a
    # host that provides an interface or links an ext one needs it, not ``import Host``.
    from airssys_wasm.runtime.wit_parser import WitFunction, WitInterface, WitPackage, WitType

__all__ = [
    "INTERFACES_KEY",
    "BoundInterface",
    "Caller",
    "HostInterface",
    "InterfaceRegistry",
    "builtin_interfaces",
    "caller",
    "check_imports",
]

#: The manifest key that grants custom interfaces (``[capabilities] interfaces = [...]``).
INTERFACES_KEY = "capabilities.interfaces"
#: ``kind`` of the security decisions about custom interfaces (import at spawn, metered calls).
INTERFACES = "interfaces"
_RESERVED = "airssys:"

_current: contextvars.ContextVar[HostServices] = contextvars.ContextVar("airssys_wasm_caller")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who called a host function: what :func:`caller` returns inside one."""

    #: The calling component's id (its ``name`` is the name it was spawned under).
    component_id: ComponentId
    #: The request it is serving when the call comes from its ``execute`` (request id,
    #: remaining time, who asked); None while it handles a message or runs ``init``.
    request: ExecutionContext | None

    @property
    def name(self) -> str:
        """The name the component was spawned under: the usual key of per-tenant decisions."""
        return self.component_id.name


def caller() -> Caller:
    """The component calling the current host function (also inside an ``async def`` one).

    Valid only while a host function provided with :meth:`Host.provide` runs; elsewhere it
    raises LookupError — there is no caller to decide for.
    """
    services = _current.get(None)
    if services is None:
        data = current_data()
        if isinstance(data, HostServices):
            return Caller(data.component, data.request)
        raise LookupError("airssys_wasm.caller() was called outside a host function; it only "
                          "answers while a guest's call to a provided interface runs")
    return Caller(services.component, services.request)


def _snake(name: str) -> str:
    return name.replace("-", "_")


def _camel(name: str) -> str:
    """The Python class name of a WIT resource: ``file-handle`` -> ``FileHandle``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("-"))


#: The hook a resource class may define: run once when the guest drops the object's last
#: handle, or when the guest's instance is closed while it still holds one.
DROP_HOOK = "drop"


def _resource_of(name: str) -> tuple[str, str | None]:
    """``[method]r.m`` -> ("r", "m"); ``[static]r.s`` -> ("r", "s"); ``[constructor]r`` ->
    ("r", None); a freestanding function -> ("", None)."""
    for prefix in ("[method]", "[static]"):
        if name.startswith(prefix):
            resource, _, member = name[len(prefix):].partition(".")
            return resource, member
    if name.startswith("[constructor]"):
        return name[len("[constructor]"):], None
    return "", None


def _handles_in(t: WitType | None) -> Iterator[WitType]:
    """The resources of every own/borrow handle inside ``t``."""
    if t is None:
        return
    if t.kind in ("own", "borrow"):
        first = t.args[0]
        assert first is not None
        yield first
        return
    for child in t.args:
        yield from _handles_in(child)
    for _, child in t.fields:
        yield from _handles_in(child)


def _is_wit_text(wit: str) -> bool:
    return "\n" in wit or ";" in wit or "{" in wit


def _load(wit: str | os.PathLike[str]) -> WitPackage:
    from airssys_wasm.runtime.wit_parser import load_wit, parse_wit

    if isinstance(wit, os.PathLike) or (isinstance(wit, str) and not _is_wit_text(wit)):
        return load_wit(wit)
    if isinstance(wit, str):
        return parse_wit(wit)
    raise ConfigError(f"wit must be WIT text or a path to a .wit file or folder, not "
                      f"{type(wit).__name__}")


def _pick(package: WitPackage, interface: str | None) -> WitInterface:
    names = sorted(package.interfaces)
    where = f"package {package.name}" + (f"@{package.version}" if package.version else "")
    if interface is None:
        with_funcs = [i for i in package.interfaces.values() if i.functions]
        if len(with_funcs) == 1:
            return with_funcs[0]
        if not with_funcs:
            raise ConfigError(f"{where} has no interface with functions to provide")
        raise ConfigError(f"{where} has several interfaces ({', '.join(names)}); pick one with "
                          f"interface=\"{with_funcs[0].qualified}\"")
    for iface in package.interfaces.values():
        if interface in (iface.name, iface.qualified):
            return iface
    raise ConfigError(f"{where} has no interface {interface!r}; it has "
                      + ", ".join(i.qualified for i in package.interfaces.values()))


def _lookup(implementation: object, name: str) -> Any:
    if isinstance(implementation, Mapping):
        return implementation.get(name, implementation.get(_snake(name)))
    return getattr(implementation, _snake(name), None)


def _lookup_resource(implementation: object, name: str) -> Any:
    if isinstance(implementation, Mapping):
        return implementation.get(name, implementation.get(_camel(name)))
    return getattr(implementation, _camel(name), None)


def _resource_classes(definition: WitInterface, implementation: object) -> dict[str, type]:
    """WIT resource name -> the implementation's class for it; ConfigError for what is wrong."""
    qualified = definition.qualified
    for func in definition.functions.values():
        for t in (*(t for _, t in func.params), func.result):
            for res in _handles_in(t):
                if res.names[0] != qualified:
                    raise ConfigError(
                        f"{qualified}: `{func.name}` uses resource {res.names[1]!r} of "
                        f"{res.names[0]}; resources shared between interfaces are not "
                        "supported, declare the resource in the interface whose functions use it")
    out: dict[str, type] = {}
    for name in definition.resources:
        cls = _lookup_resource(implementation, name)
        if cls is None:
            raise ConfigError(f"{qualified}: the implementation lacks the class {_camel(name)} "
                              f"for resource {name!r} (its constructor, methods and an optional "
                              f"`{DROP_HOOK}` hook)")
        if not isinstance(cls, type):
            raise ConfigError(f"{qualified}: `{_camel(name)}` for resource {name!r} must be a "
                              f"class, not a {type(cls).__name__}")
        drop = getattr(cls, DROP_HOOK, None)
        if drop is not None:
            if not callable(drop) or inspect.iscoroutinefunction(drop):
                raise ConfigError(f"{qualified}: {cls.__name__}.{DROP_HOOK} must be a plain "
                                  "method (def, not async def): a resource drop cannot suspend")
            try:
                inspect.signature(drop).bind(None)
            except TypeError:
                raise ConfigError(f"{qualified}: {cls.__name__}.{DROP_HOOK} must take only "
                                  "self") from None
            except ValueError:
                pass  # no signature to check
        out[name] = cls
    return out


def _lookup_function(implementation: object, resources: Mapping[str, type], name: str
                     ) -> tuple[Any, str]:
    """(the callable implementing WIT function ``name``, how to name it in messages)."""
    resource, member = _resource_of(name)
    if not resource:
        return _lookup(implementation, name), _snake(name)
    cls = resources[resource]
    if member is None:
        return cls, f"{cls.__name__}(...)"
    return getattr(cls, _snake(member), None), f"{cls.__name__}.{_snake(member)}"


def _check_arity(qualified: str, func: WitFunction, fn: Callable[..., Any]) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin without a signature: the first call tells
    params = [p.name for p in sig.parameters.values()]
    try:
        sig.bind(*range(len(func.params)))
    except TypeError:
        declared = ", ".join(n for n, _ in func.params) or "none"
        raise ConfigError(
            f"{qualified}: the implementation of `{func.name}` takes ({', '.join(params)}) but "
            f"the WIT declares {len(func.params)} parameter(s) ({declared}): "
            f"{func.signature()}") from None


def _check_errors(qualified: str, errors: Mapping[Any, Any]) -> dict[type[BaseException],
                                                                     Callable[[Any], Any]]:
    if not isinstance(errors, Mapping):
        raise ConfigError(f"{qualified}: errors must map exception types to converters, not "
                          f"{type(errors).__name__}")
    out: dict[type[BaseException], Callable[[Any], Any]] = {}
    for exc_type, convert in errors.items():
        if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
            raise ConfigError(f"{qualified}: errors keys must be exception classes, got "
                              f"{exc_type!r}")
        if not callable(convert):
            raise ConfigError(f"{qualified}: errors[{exc_type.__name__}] must be a callable "
                              "exception -> WIT error value")
        out[exc_type] = convert
    return out


@dataclass(frozen=True, slots=True)
class HostInterface:
    """One WIT interface implemented in Python, ready to be provided to components.

    ``wit``: WIT text, or the path of a ``.wit`` file or of a folder of them (one package). A
    ``str`` holding a newline, ``;`` or ``{`` is WIT text; any other ``str`` (and any
    ``os.PathLike``) is a path.
    ``implementation``: an object whose methods, or a mapping whose callables, are the
    interface's functions (``get-balance`` is ``get_balance``; a mapping may also use the WIT
    name). Plain ``def`` and ``async def`` both work. ``interface`` picks one when the package
    has several (``"acme:billing/ledger@1.0.0"`` or just ``"ledger"``).

    ``errors`` maps exception types to the WIT error value of functions that return a
    ``result<_, E>``: ``errors={InsufficientFunds: lambda e: ("insufficient-funds", e.need)}``
    turns a raised ``InsufficientFunds`` into ``err(insufficient-funds(...))`` for the guest
    instead of a trap (the most specific class wins; the value must fit E).

    Values use the fast path's representation (record = dict, variant = ``(case, payload)``,
    enum = case name, flags = frozenset, option = None or the value, result =
    ``("ok"|"err", value)``, ``list<u8>`` = bytes). Validation happens here: a ConfigError
    (WitError for the WIT text itself) names what is wrong.
    """

    wit: str | os.PathLike[str]
    implementation: object
    interface: str | None = None
    errors: Mapping[type[BaseException], Callable[[Any], Any]] = field(default_factory=dict)
    #: The parsed interface (set from ``wit``).
    definition: WitInterface = field(init=False, repr=False, compare=False)
    #: WIT function name -> the Python callable implementing it.
    functions: Mapping[str, Callable[..., Any]] = field(init=False, repr=False, compare=False)
    #: WIT resource name -> the class implementing it (``file-handle`` -> ``FileHandle``).
    resources: Mapping[str, type] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        definition = _pick(_load(self.wit), self.interface)
        qualified = definition.qualified
        if qualified.startswith(_RESERVED):
            raise ConfigError(f"{qualified}: the airssys: namespace is reserved for the built-in "
                              "interfaces; put yours in your own package (acme:billing/...)")
        resources = _resource_classes(definition, self.implementation)
        functions: dict[str, Callable[..., Any]] = {}
        missing = []
        for name, func in definition.functions.items():
            fn, pyname = _lookup_function(self.implementation, resources, name)
            if fn is None:
                missing.append(f"{pyname} (for {func.signature()})")
                continue
            if not callable(fn):
                raise ConfigError(f"{qualified}: `{pyname}` of the implementation is a "
                                  f"{type(fn).__name__}, not a function")
            _check_arity(qualified, func, fn)
            functions[name] = fn
        if missing:
            raise ConfigError(f"{qualified}: the implementation lacks " + "; ".join(missing))
        if isinstance(self.implementation, Mapping):
            known = ({n for n in definition.functions if not _resource_of(n)[0]}
                     | {_snake(n) for n in definition.functions}
                     | set(resources) | {_camel(n) for n in resources})
            extra = sorted(str(k) for k in self.implementation if k not in known)
            if extra:
                raise ConfigError(f"{qualified}: the implementation has {', '.join(extra)}, "
                                  f"which the WIT does not declare (misspelt?); it declares "
                                  f"{', '.join(definition.functions)}")
        errors = _check_errors(qualified, self.errors)
        if errors and not any(f.result is not None and f.result.kind == "result"
                              and f.result.args[1] is not None
                              for f in definition.functions.values()):
            raise ConfigError(f"{qualified}: errors= maps exceptions to WIT error values, but no "
                              "function of the interface returns a result<_, E> to carry one")
        object.__setattr__(self, "definition", definition)
        object.__setattr__(self, "functions", functions)
        object.__setattr__(self, "resources", resources)
        object.__setattr__(self, "errors", errors)

    @property
    def name(self) -> str:
        """The import name components use: ``acme:billing/ledger@1.0.0``."""
        return self.definition.qualified

    def check_guest(self, who: str, imported: Mapping[str, Any],
                    resources: Mapping[str, Any] | None = None) -> None:
        """LoadError unless every function the guest imports from this interface is declared
        with the same type (``imported``: function name -> wasmtime FuncType; ``resources``:
        resource name -> the guest's ResourceType, so handles must name the same resource)."""
        check_imports(who, self.definition, imported, "provided", resources)

    def resource_hooks(self) -> dict[str, tuple[type, Callable[[Any], Any] | None]]:
        """Resource name -> (class, drop hook or None), what ``define_imports`` registers."""
        return {name: (cls, getattr(cls, DROP_HOOK, None)) for name, cls in self.resources.items()}


def check_imports(who: str, interface: WitInterface, imported: Mapping[str, Any],
                  whose: str, resources: Mapping[str, Any] | None = None) -> None:
    """LoadError unless every function in ``imported`` (name -> the guest's wasmtime FuncType)
    is declared by ``interface`` with the same type; it names the function and the field.
    ``resources`` (the guest's resource name -> ResourceType) makes handles compare by the
    resource they are of, and refuses a resource the WIT does not declare."""
    from airssys_wasm.runtime.wit_parser import describe_mismatch

    for rname in sorted(resources or ()):
        if rname not in interface.resources:
            raise LoadError(f"{who}: imports resource {rname!r} from {interface.qualified}, "
                            f"which the {whose} WIT does not declare (it declares "
                            f"{', '.join(interface.resources) or 'no resources'})")
    for fname, functype in imported.items():
        declared = interface.functions.get(fname)
        if declared is None:
            raise LoadError(f"{who}: imports `{fname}` from {interface.qualified}, which the "
                            f"{whose} WIT does not declare (it declares "
                            f"{', '.join(interface.functions) or 'nothing'})")
        diff = describe_mismatch(declared, functype, resources)
        if diff is not None:
            raise LoadError(f"{who}: imports `{fname}` from {interface.qualified} with another "
                            f"type than the {whose} WIT: {diff}.\n  {whose}: "
                            f"{declared.signature()}\nRebuild the guest against the same WIT.")


@functools.cache
def builtin_interfaces() -> dict[str, WitInterface]:
    """The airssys WIT shipped with the package (``runtime.wit_dir()``), parsed once: what the
    built-in ext interfaces' imports are checked against at spawn, as custom ones are."""
    from airssys_wasm.runtime.wit_parser import load_wit_packages

    return {i.qualified: i for package in load_wit_packages(wit_dir()).values()
            for i in package.interfaces.values()}


def _mapper(errors: Mapping[type[BaseException], Callable[[Any], Any]]
            ) -> Callable[[BaseException], Callable[[Any], Any] | None]:
    ordered = sorted(errors.items(), key=lambda kv: -len(kv[0].__mro__))  # most specific first

    def find(exc: BaseException) -> Callable[[Any], Any] | None:
        for exc_type, convert in ordered:
            if isinstance(exc, exc_type):
                return convert
        return None

    return find


def _services() -> HostServices:
    services = current_data()
    if not isinstance(services, HostServices):
        raise LookupError("a provided host function ran outside a guest call of an airssys "
                          "runtime instance")
    return services


class BoundInterface:
    """A HostInterface as the callables ``define_imports`` registers, plus their gate labels.

    Built once per interface; it serves every artifact and every component (the per-component
    part — who called, metered or not — is the calling Store's HostServices, read only when
    needed). A plain ``def`` without a mapped error is registered as it is: the C trampoline
    calls the embedder's function directly, nothing in between (the quota gate, when a
    component has one, runs in C before it). An ``async def`` gets a starter that captures the
    caller and runs the coroutine for the suspended guest; a function with ``errors`` gets a
    wrapper that turns the declared exceptions (also QuotaExceeded, if declared) into the
    WIT error value.
    """

    def __init__(self, provided: HostInterface) -> None:
        self.provided = provided

    def label(self, name: str) -> str:
        return f"{self.provided.name}#{name}"

    def functions(self, names: Iterable[str]) -> tuple[dict[str, Callable[..., Any]],
                                                       dict[str, str]]:
        """(function name -> callable, function name -> gate label) for ``define_imports``."""
        functions, gates = {}, {}
        for name in names:
            fn, gated_in_c = self._bind(name)
            functions[name] = fn
            if gated_in_c:
                gates[name] = self.label(name)
        return functions, gates

    def _bind(self, name: str) -> tuple[Callable[..., Any], bool]:
        provided = self.provided
        fn = provided.functions[name]
        func = provided.definition.functions[name]
        returns_err = (func.result is not None and func.result.kind == "result"
                       and func.result.args[1] is not None)
        find = _mapper(provided.errors) if returns_err and provided.errors else None
        what = self.label(name)

        def mapped(exc: Exception) -> Any:
            convert = find(exc) if find is not None else None
            if convert is None:
                raise exc
            return ("err", convert(exc))

        def gate(services: HostServices) -> None:
            if services.call_gate is not None:
                services.call_gate(what)

        if inspect.iscoroutinefunction(fn):
            async def body(services: HostServices, args: tuple[Any, ...]) -> Any:
                _current.set(services)  # the coroutine runs in a context of its own
                try:
                    gate(services)
                    return await fn(*args)
                except Exception as exc:
                    return mapped(exc)

            @suspend.suspending
            def start(*args: Any) -> Any:
                return suspend.run_coroutine(body(_services(), args), what)
            return start, False

        if find is not None:
            def call(*args: Any) -> Any:
                try:
                    gate(_services())
                    return fn(*args)
                except Exception as exc:
                    return mapped(exc)
            return call, False
        return fn, True


class InterfaceRegistry:
    """The interfaces one Host provides, by import name; linked into artifacts at spawn."""

    def __init__(self, security: SecurityProvider, interfaces: Iterable[HostInterface] = ()) -> None:
        self.security = security
        self._provided: dict[str, HostInterface] = {}
        self._bound: dict[str, BoundInterface] = {}
        #: Interfaces already defined on each artifact's linker (weak: an artifact dropped by
        #: the host takes its entry along, so a new one at the same address is linked afresh).
        self._linked: weakref.WeakKeyDictionary[ComponentArtifact, set[str]] = \
            weakref.WeakKeyDictionary()
        for item in interfaces:
            self.add(item)

    def add(self, provided: HostInterface) -> HostInterface:
        if not isinstance(provided, HostInterface):
            raise ConfigError(f"interfaces must be airssys_wasm.HostInterface values, not "
                              f"{type(provided).__name__}")
        name = provided.name
        if name in self._provided:
            raise ConfigError(f"interface {name} is already provided by this host; provide each "
                              "interface once (one implementation serves every component)")
        self._provided[name] = provided
        self._bound[name] = BoundInterface(provided)
        return provided

    def get(self, name: str) -> HostInterface | None:
        return self._provided.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._provided

    def names(self) -> list[str]:
        return sorted(self._provided)

    def call_gate(self, component: str) -> Callable[[str], None]:
        """The per-call check of a metered component (``HostServices.call_gate``): one
        security decision per call (``interfaces``, ``iface#func``, amount 1), charged to its
        ``interface_calls_per_second`` and audited; a denial raises QuotaExceeded (or
        PermissionDenied)."""
        check = self.security.check

        def gate(what: str) -> None:
            decision = check(component, INTERFACES, what, amount=1)
            if not decision.allowed:
                error = QuotaExceeded if decision.error == RESOURCE_EXHAUSTED else PermissionDenied
                raise error(f"component {component!r} may not call {what} now: "
                            f"{decision.reason}")
        return gate

    def link(self, component: str, artifact: ComponentArtifact, *,
             grantee: str | None = None) -> None:
        """Refuse ``artifact``'s custom imports that are not provided, not granted or typed
        differently; provide the others (once per artifact). Grants are decided (and audited)
        by the security provider, kind ``interfaces``, for ``grantee`` (default
        ``component``: an upgrade decides under the new version's probe name)."""
        custom = artifact.custom_imports
        if not custom:  # most components: nothing to decide, and no message to prepare
            return
        who = f"component {component!r}"
        for interface in sorted(custom):
            provided = self._provided.get(interface)
            if provided is None:
                offered = ", ".join(self.names()) or "none"
                raise LoadError(f"{who} imports {interface}, which this host does not provide "
                                f"(it provides: {offered}); register it with host.provide(wit, "
                                "implementation) or HostConfig(interfaces=[...]) before spawning")
            decision = self.security.check(grantee or component, INTERFACES, interface)
            if not decision.allowed:
                raise PermissionDenied(
                    f"{who} imports {interface} but is not granted it ({decision.reason}); "
                    f"add it to {INTERFACES_KEY} in its Component.toml, e.g. "
                    f"[capabilities] interfaces = [\"{interface.partition('/')[0]}/*\"]")
            linked = self._linked.setdefault(artifact, set())
            if interface in linked:
                continue
            imported = artifact.imported_function_types(interface)
            provided.check_guest(who, imported, artifact.imported_resources(interface))
            functions, gates = self._bound[interface].functions(imported)
            artifact.define_imports(interface, functions, with_data=False, gates=gates,
                                    resources=provided.resource_hooks())
            linked.add(interface)
