"""frostfork.Model: the fastest way to hold validated data.

Declared with annotations like a dataclass; instances have slots and no
`__dict__`. The C decoder builds them by writing the slots directly, without
running any Python code (so `__init__` is for your own construction, and it
does not validate — `frostfork.json.decode` does).

    class NewUser(frostfork.Model, forbid_extra=True):
        name: Annotated[str, MinLen(3)]
        age: int = 0
        tags: list[str] = field(default_factory=list)
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any, ClassVar

__all__ = ["Model", "field"]

field = dataclasses.field  # only default / default_factory are read


def _own_fields(ns: dict[str, Any]) -> list[str]:
    names = []
    for name, hint in ns.get("__annotations__", {}).items():
        text = hint if isinstance(hint, str) else repr(hint)
        if name.startswith("_") or "ClassVar" in text:
            continue
        names.append(name)
    return names


class _ModelMeta(type):
    """Turns annotations into __slots__ and remembers defaults the slots replace."""

    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any],
                forbid_extra: bool = False, **kw: Any) -> type:
        own = _own_fields(ns)
        defaults: dict[str, Any] = {}
        factories: dict[str, Any] = {}
        for base in reversed(bases):
            defaults.update(getattr(base, "__frostfork_defaults__", {}))
            factories.update(getattr(base, "__frostfork_factories__", {}))
        for f in own:
            if f not in ns:
                continue
            value = ns.pop(f)
            if isinstance(value, dataclasses.Field):
                if value.default_factory is not dataclasses.MISSING:
                    factories[f] = value.default_factory
                elif value.default is not dataclasses.MISSING:
                    defaults[f] = value.default
            else:
                defaults[f] = value
        inherited = [f for b in bases for f in getattr(b, "__frostfork_fields__", ())]
        ns["__slots__"] = tuple(f for f in own if f not in inherited)
        ns["__frostfork_fields__"] = tuple(inherited + [f for f in own if f not in inherited])
        ns["__frostfork_defaults__"] = defaults
        ns["__frostfork_factories__"] = factories
        ns["__forbid_extra__"] = forbid_extra
        return super().__new__(mcls, name, bases, ns, **kw)

    def __init__(cls, name: str, bases: tuple[type, ...], ns: dict[str, Any],
                 forbid_extra: bool = False, **kw: Any) -> None:
        super().__init__(name, bases, ns, **kw)


class Model(metaclass=_ModelMeta):
    """Base class for C-built records (see the module docstring)."""

    __slots__ = ()
    __frostfork_model__: ClassVar[bool] = True
    # set by the metaclass on every subclass
    __frostfork_fields__: ClassVar[tuple[str, ...]]
    __frostfork_defaults__: ClassVar[dict[str, Any]]
    __frostfork_factories__: ClassVar[dict[str, Callable[[], Any]]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = type(self).__frostfork_fields__
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} positional arguments")
        values = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError(f"{type(self).__name__} has no field {k!r}")
            if k in values:
                raise TypeError(f"{type(self).__name__} got {k!r} twice")
            values[k] = v
        cls = type(self)
        for n in names:
            if n in values:
                value = values[n]
            elif n in cls.__frostfork_factories__:
                value = cls.__frostfork_factories__[n]()
            elif n in cls.__frostfork_defaults__:
                value = cls.__frostfork_defaults__[n]
            else:
                raise TypeError(f"{cls.__name__} missing required field {n!r}")
            object.__setattr__(self, n, value)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n, None)!r}" for n in type(self).__frostfork_fields__)
        return f"{type(self).__name__}({inner})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n, None) == getattr(other, n, None)
                   for n in type(self).__frostfork_fields__)

    __hash__ = None  # type: ignore[assignment]
