"""Handlers that go past the sizes the C core keeps on the stack: a union of
20 options, 20 request-scoped dependencies, a handler with 40 parameters,
long query strings, repeated headers, and long header names."""

from __future__ import annotations

import dataclasses
import typing
from typing import Annotated, Any

import frostfork
from frostfork import Body, Header, Query, Request

app = frostfork.App(title="limits test app")

N_UNION = 20
N_DEPS = 20
N_PARAMS = 40

# --- a union of 20 models, each told apart by its one required field -------

OPTIONS = [dataclasses.make_dataclass(f"Option{i}", [(f"f{i}", int)]) for i in range(N_UNION)]
Choice = typing.Union[tuple(OPTIONS)]


@app.post("/union")
def union(choice: Annotated[Choice, Body()]) -> dict:  # type: ignore[valid-type]
    return {"option": type(choice).__name__, "fields": dataclasses.asdict(choice)}


# --- 20 request-scoped dependencies, each counting its constructions --------

def _factory(cls: type) -> Any:
    def make() -> Any:
        cls.made += 1  # type: ignore[attr-defined]
        return cls()
    return make


DEPS: list[type] = []
for i in range(N_DEPS):
    cls = type(f"Dep{i}", (), {"made": 0})
    app.provide(cls, _factory(cls))
    DEPS.append(cls)


def _with_all_deps(name: str, body: str, extra: str = "") -> Any:
    """A function taking dep0..dep19 annotated Dep0..Dep19 (and `extra`)."""
    params = ", ".join(f"dep{i}: Dep{i}" for i in range(N_DEPS))
    namespace = {f"Dep{i}": cls for i, cls in enumerate(DEPS)}
    namespace.update(Seen=Seen)
    src = f"def {name}({params}{', ' + extra if extra else ''}):\n{body}"
    exec(src, namespace)
    fn = namespace[name]
    fn.__annotations__ = {f"dep{i}": cls for i, cls in enumerate(DEPS)}
    if extra:
        fn.__annotations__[extra.split(":")[0]] = Seen
    return fn


class Seen:
    """A dependency that itself asks for all 20: what it got must be what the
    handler gets, the same objects, made once."""

    def __init__(self, deps: list[Any]) -> None:
        self.ids = [id(d) for d in deps]


app.provide(Seen, _with_all_deps("make_seen", "    return Seen([" +
                                 ", ".join(f"dep{i}" for i in range(N_DEPS)) + "])\n"))

deps_handler = _with_all_deps(
    "deps_handler",
    "    mine = [" + ", ".join(f"dep{i}" for i in range(N_DEPS)) + "]\n"
    "    return {'made': [type(d).made for d in mine],\n"
    "            'shared': [id(d) for d in mine] == seen.ids}\n",
    extra="seen: Seen")
app.get("/deps")(deps_handler)


# --- a handler with 40 query parameters ------------------------------------

def _many(**kw: int) -> dict:
    return {"n": len(kw), "sum": sum(kw.values())}


_src = ("def many(" + ", ".join(f"p{i}: int = 0" for i in range(N_PARAMS)) + "):\n"
        "    return _many(" + ", ".join(f"p{i}=p{i}" for i in range(N_PARAMS)) + ")\n")
_ns: dict[str, Any] = {"_many": _many}
exec(_src, _ns)
_ns["many"].__annotations__ = {f"p{i}": int for i in range(N_PARAMS)}
app.get("/many")(_ns["many"])


# --- query strings and repeated headers ------------------------------------

@app.get("/query")
def query(k: Annotated[list[str], Query("k")] = [], last: str = "") -> dict:
    return {"k": k, "last": last}


@app.get("/items")
def items(item: Annotated[list[str], Header("X-Item")] = []) -> dict:
    return {"n": len(item), "first": item[:1], "last": item[-1:]}


@app.get("/headers")
def headers(request: Request) -> dict:
    return {"names": sorted(request.headers)}


@app.post("/number")
def number(n: Annotated[int, Body(embed=True)],
           extra: Annotated[Any, Body(embed=True)] = None) -> dict:
    return {"n": n % 1000, "extra": extra}


@app.get("/count")
def count(n: int = 0) -> dict:
    return {"n": n % 1000}


@app.get("/nested/{levels}")
def nested(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


@app.get("/boom")
def boom() -> dict:
    raise RuntimeError("boom")


def wsgi_headers(environ: dict, start_response: Any) -> list[bytes]:
    """A WSGI app answering with the HTTP_* keys of its environ, one a line."""
    keys = sorted(k for k in environ if k.startswith("HTTP_"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["\n".join(keys).encode()]
