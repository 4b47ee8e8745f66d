"""Plugin loading: default plugins, ``sslbench`` entry points, and the registries they fill."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable

import pluggy

from . import hookspecs
from .errors import DuplicateNameError, PluginError, SSLBenchError
from .registry import Registry

ENTRY_POINT_GROUP = "sslbench"

#: Built-in plugins, registered through the same hooks a third-party plugin uses.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "sslbench.default_plugins.backbones",
    "sslbench.default_plugins.datasets",
    "sslbench.default_plugins.transfer_datasets",
    "sslbench.default_plugins.protocols",
    "sslbench.default_plugins.spotting",
    "sslbench.default_plugins.devtools",
)


@dataclass
class PluginInfo:
    """What ``sslbench plugins`` shows for one plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    error: str | None = None
    hooks: list[str] = field(default_factory=list)


@dataclass
class Registries:
    """One typed registry per kind of plugin object."""

    methods: Registry[Any]
    backbones: Registry[Any]
    datasets: Registry[Any]
    protocols: Registry[Any]


_pm: pluggy.PluginManager | None = None
_infos: dict[str, PluginInfo] = {}
_registries: Registries | None = None


def _allowed_external() -> set[str] | None:
    """None = load every entry point; otherwise the allow-list from SSLBENCH_LOAD_PLUGINS."""
    value = os.environ.get("SSLBENCH_LOAD_PLUGINS")
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _trace(message: str) -> None:
    if os.environ.get("SSLBENCH_TRACE_PLUGINS"):
        print(f"[sslbench trace] {message}", file=sys.stderr)


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, loading default and entry-point plugins on first use."""
    global _pm
    if _pm is not None:
        return _pm
    pm = pluggy.PluginManager("sslbench")
    pm.add_hookspecs(hookspecs)
    _pm = pm
    for module_name in DEFAULT_PLUGINS:
        _load_module(module_name, module_name, None, None)
    allowed = _allowed_external()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else None
        if allowed is not None and ep.name not in allowed and (dist or "") not in allowed:
            continue
        version = ep.dist.version if ep.dist is not None else None
        _load_module(ep.name, ep.value, dist, version, ep.load)
    pm.check_pending()
    return pm


def _load_module(
    name: str,
    module_name: str,
    dist: str | None,
    version: str | None,
    loader: Callable[[], Any] | None = None,
) -> None:
    """Import one plugin; a failure is recorded for ``sslbench plugins``, never raised."""
    assert _pm is not None
    info = PluginInfo(name=name, module=module_name, distribution=dist, version=version)
    _infos[name] = info
    try:
        module = loader() if loader is not None else importlib.import_module(module_name)
        _pm.register(module, name=name)
    except Exception as exc:  # a broken plugin must not break the CLI
        info.error = f"{type(exc).__name__}: {exc}"
        _trace(f"plugin {name!r} failed to load:\n{traceback.format_exc()}")
        return
    info.hooks = sorted(h.name for h in _pm.get_hookcallers(module) or [])


def register_plugin(plugin: object, name: str) -> None:
    """Register an in-process plugin object or module (used by tests and embedding code); its
    ``__version__``, if any, is its version in :func:`provenance`."""
    pm = get_plugin_manager()
    pm.register(plugin, name=name)
    version = getattr(plugin, "__version__", None)
    _infos[name] = PluginInfo(
        name=name,
        module=getattr(plugin, "__name__", type(plugin).__name__),
        version=str(version) if version is not None else None,
        hooks=sorted(h.name for h in pm.get_hookcallers(plugin) or []),
    )
    reset_registries()


def unregister_plugin(name: str) -> None:
    """Undo :func:`register_plugin`."""
    pm = get_plugin_manager()
    plugin = pm.get_plugin(name)
    if plugin is not None:
        pm.unregister(plugin)
    _infos.pop(name, None)
    reset_registries()


def plugin_infos() -> list[PluginInfo]:
    """Every plugin that was loaded or failed to load, in load order."""
    get_plugin_manager()
    return list(_infos.values())


def provenance(registry: Registry[Any], name: str) -> dict[str, str | None]:
    """Which plugin, distribution and version registered ``name``: part of cache keys, since a new
    release of a plugin may produce other data or features under the same name."""
    plugin = registry.entry(name).plugin
    info = _infos.get(plugin)
    dist = info.distribution if info else None
    version = info.version if info else None
    if dist is None and plugin in DEFAULT_PLUGINS:
        dist = "sslbench"
        try:
            version = metadata.version("sslbench")
        except metadata.PackageNotFoundError:
            version = None
    return {"plugin": plugin, "distribution": dist, "version": version}


def reset_registries() -> None:
    """Forget the filled registries so the next :func:`registries` call re-runs the hooks."""
    global _registries
    _registries = None


def reset() -> None:
    """Forget everything (plugin manager included): the next call reloads plugins."""
    global _pm, _registries
    _pm = None
    _registries = None
    _infos.clear()


def _collect(hook_name: str, registry: Registry[Any], adapt: Callable[..., tuple[str, Any]]) -> None:
    pm = get_plugin_manager()
    caller = getattr(pm.hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):  # registration order
        plugin = impl.plugin_name

        def register(*args: Any, _plugin: str = plugin, **kwargs: Any) -> None:
            name, obj = adapt(*args, **kwargs)
            _trace(f"{hook_name}: plugin {_plugin!r} registers {name!r}")
            try:
                registry.register(name, obj, plugin=_plugin)
            except DuplicateNameError:  # only commands that ask for this name fail (Registry.contest)
                _trace(f"{hook_name}: {registry.kind} {name!r} of plugin {_plugin!r} is contested")
                registry.contest(name, _plugin)

        _trace(f"calling {hook_name} of plugin {plugin!r}")
        try:
            impl.function(register=register)
        except Exception as exc:
            info = _infos.get(plugin)
            if info is not None:
                info.error = f"{hook_name} failed: {type(exc).__name__}: {exc}"
            _trace(f"{hook_name} of {plugin!r} failed:\n{traceback.format_exc()}")


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _failed_plugins_hint(name: str) -> str:
    """Why a name may be unknown: the plugins that failed to load (the one named ``name`` first)."""
    failed = [i for i in _infos.values() if i.error]
    if not failed:
        return ""
    named = [i for i in failed if name in (i.name, i.distribution)]
    if named:
        info = named[0]
        return (f": plugin {info.name!r}{_origin(info)} failed to load ({_one_line(info.error or '')}); "
                f"see `sslbench plugins`")
    listed = ", ".join(f"{i.name!r} ({_one_line(i.error or '', 120)})" for i in failed)
    return f" (plugins that failed to load and may provide it: {listed}; see `sslbench plugins`)"


def _origin(info: PluginInfo) -> str:
    return f" from {info.distribution} {info.version or ''}".rstrip() if info.distribution else ""


def _choose_hint(owners: list[str]) -> str:
    """How to settle a conflict: per registrant, an SSLBENCH_LOAD_PLUGINS allow-list keeping only it."""
    external = [i.name for i in _infos.values() if i.distribution is not None and not i.error]
    owners = list(dict.fromkeys(owners))
    choices = []
    for keep in owners:
        drop = [p for p in owners if p != keep]
        if all(p in external for p in drop):  # built-in and in-process plugins cannot be left out
            choices.append(f"for {keep!r} SSLBENCH_LOAD_PLUGINS={','.join(n for n in external if n not in drop)}")
    if not choices:
        return ": rename the name in one of them"
    return f": choose one by loading only the plugins you want, {'; '.join(choices)} (or uninstall one)"


def conflicts() -> list[str]:
    """One line per name that two plugins registered: who registered it and how to choose."""
    lines = []
    for registry in _all(registries()):
        for name in registry.conflicts():
            try:
                registry.entry(name)
            except DuplicateNameError as exc:
                lines.append(str(exc))
    return lines


def _all(regs: Registries) -> tuple[Registry[Any], ...]:
    return (regs.methods, regs.backbones, regs.datasets, regs.protocols)


def plugin_error(kind: str, name: str, message: str) -> PluginError:
    """A :class:`PluginError` naming the plugin (and its distribution) that registered ``kind`` ``name``."""
    try:
        origin = provenance(getattr(registries(), _REGISTRY_OF[kind]), name)
    except SSLBenchError:  # an object used without being registered (tests, embedding code)
        return PluginError("<unregistered>", kind, name, message)
    dist = f"{origin['distribution']} {origin['version'] or ''}".strip() if origin["distribution"] else None
    return PluginError(str(origin["plugin"]), kind, name, message, dist)


_REGISTRY_OF = {"method": "methods", "backbone": "backbones", "dataset": "datasets", "protocol": "protocols"}


def _by_name_attr(obj: Any) -> tuple[str, Any]:
    name = getattr(obj, "name", None)
    if not isinstance(name, str):
        raise TypeError(f"{obj!r} has no string 'name' attribute")
    return name, obj


def _by_name_and_builder(name: str, build: Callable[..., Any]) -> tuple[str, Any]:
    return name, build


def registries() -> Registries:
    """The registries, filled by calling every plugin's ``register_*`` hooks once."""
    global _registries
    if _registries is None:
        regs = Registries(
            methods=Registry("method"),
            backbones=Registry("backbone"),
            datasets=Registry("dataset"),
            protocols=Registry("protocol"),
        )
        _collect("register_methods", regs.methods, _by_name_attr)
        _collect("register_backbones", regs.backbones, _by_name_and_builder)
        _collect("register_datasets", regs.datasets, _by_name_attr)
        _collect("register_protocols", regs.protocols, _by_name_attr)
        for registry in _all(regs):
            registry.unknown_hint = _failed_plugins_hint
            registry.conflict_hint = _choose_hint
        _registries = regs
    return _registries
