"""The example service: a small users-and-audit API that uses every part of frostfork.

    make serve        # or: frostfork serve examples.app:app --workers 4

- typed request models with constraints and a Sensitive password (hashed with
  hashlib.scrypt before it is stored; never logged, never echoed);
- SQLite as the embedded database, its tables created from the same models by
  frostfork.sql.create_table, so the database enforces the API's constraints too;
- the user routes on a frostfork.Router, a 201 for a created user, HTTPError for
  404s and an exception handler that turns a unique-constraint violation into 409;
- a request-scoped connection from a yield dependency: handlers commit before they
  answer (another worker may serve the next request at once); after the response,
  what a failed handler left is rolled back, and the connection is closed either way;
- an admin-only DELETE guarded by an API key (frostfork.security.APIKeyHeader, key
  from $FROSTFORK_EXAMPLE_ADMIN_KEY);
- an audit trail written through the SQLite DataSink (frostfork.sinks.sqlite);
- an upload endpoint whose large bodies are spooled to a file that is removed
  when the request ends;
- a large read-only lookup table built once in the master at startup and shared
  by every worker through the frozen heap;
- OpenAPI 3.1 at /openapi.json.

Data lives in $FROSTFORK_EXAMPLE_DIR (default ./example-data).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass
from typing import Annotated, Literal

import frostfork
from frostfork import (Description, Ge, HTTPError, Le, MaxLen, MinLen, Pattern, Query, Request,
                       Response, Router, Sensitive)
from frostfork.security import APIKeyHeader

DATA = os.path.abspath(os.environ.get("FROSTFORK_EXAMPLE_DIR", "example-data"))
os.makedirs(DATA, exist_ok=True)
DB_PATH = os.path.join(DATA, "users.db")
AUDIT_PATH = os.path.join(DATA, "audit.db")

Username = Annotated[str, MinLen(3), MaxLen(32), Pattern(r"^[a-z][a-z0-9_]*$"),
                     Description("lower-case letters, digits and _")]
Password = Annotated[str, MinLen(12), MaxLen(128), Sensitive()]
CountryCode = Annotated[str, Pattern(r"^[A-Z]{2}$")]


@dataclass
class NewUser:
    """What a client sends to create a user."""
    name: Username
    password: Password
    age: Annotated[int, Ge(13), Le(150)]
    country: CountryCode = "NO"
    plan: Literal["free", "pro"] = "free"


@dataclass
class UserRow:
    """A stored user: the table is created from this, CHECKs included."""
    id: int | None
    name: Username
    password_hash: Annotated[str, MinLen(64)]
    salt: Annotated[str, MinLen(32)]
    age: Annotated[int, Ge(13), Le(150)]
    country: Annotated[str, MinLen(2), MaxLen(2)]
    plan: Literal["free", "pro"]
    avatar_bytes: Annotated[int, Ge(0)] = 0


@dataclass
class User:
    """What the API returns: no password, no hash."""
    id: int
    name: str
    age: int
    country: str
    country_name: str
    plan: str
    avatar_bytes: int


class Database:
    """One SQLite connection per request (see open_database)."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(DB_PATH, timeout=5)
        self.conn.execute("PRAGMA journal_mode=WAL")


def open_database():
    """A yield dependency: what follows the yield runs after the response is written,
    with the handler's exception thrown in when it raised."""
    db = Database()
    try:
        yield db
    except Exception:
        db.conn.rollback()
        raise
    finally:
        db.conn.close()


ADMIN_KEY = os.environ.get("FROSTFORK_EXAMPLE_ADMIN_KEY", "")
admin_key = APIKeyHeader("X-Admin-Key", description="$FROSTFORK_EXAMPLE_ADMIN_KEY")


def require_admin(key: Annotated[str, admin_key]) -> None:
    """Route dependency: a missing key is a 401 before this runs; a wrong one is a 403."""
    if not ADMIN_KEY or key != ADMIN_KEY:
        raise HTTPError(403, "not an admin key")


app = frostfork.App(title="frostfork example: users and audit", version="1.0.0",
                    audit=frostfork.sinks.sqlite(AUDIT_PATH, table="audit"))
app.provide(Database, open_database)
users = Router(prefix="/users", tags=["users"])


@app.exception_handler(sqlite3.IntegrityError)
def conflict(request: Request, exc: sqlite3.IntegrityError) -> Response:
    return Response(409, {"detail": f"conflicts with a stored row: {exc}"})


@app.on_startup
def prepare() -> None:
    """Runs once in the master, before gc.freeze() and fork."""
    with sqlite3.connect(DB_PATH) as conn:
        conn.execute(frostfork.sql.create_table(UserRow, table="users"))
        conn.execute('CREATE UNIQUE INDEX IF NOT EXISTS users_name ON users(name)')
    # A large read-only lookup table: built here, frozen, shared by all workers.
    letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    app.state.countries = {a + b: f"Country {a}{b}" for a in letters for b in letters}
    app.state.postcodes = {f"{n:05d}": (n % 676, f"Town {n}") for n in range(100_000)}


def _hash(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1).hex()


def _user(row: tuple) -> User:
    uid, name, age, country, plan, avatar = row
    return User(uid, name, age, country, app.state.countries.get(country, "?"), plan, avatar)


@users.post("", status_code=201, responses={409: {"description": "the name is taken"}})
def create_user(user: NewUser, db: Database) -> User:
    """Create a user (the password is stored as a salted scrypt hash)."""
    if user.country not in app.state.countries:
        return Response(422, {"detail": [{"type": "country", "loc": ["body", "country"],
                                          "msg": "Unknown country", "input": user.country}]})
    salt = os.urandom(16)
    cur = db.conn.execute(  # a taken name raises IntegrityError: the handler above, 409
        "INSERT INTO users (name, password_hash, salt, age, country, plan) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (user.name, _hash(user.password, salt), salt.hex(), user.age, user.country, user.plan))
    db.conn.commit()
    frostfork.audit("user.created", user=user.name, plan=user.plan)
    return _user((cur.lastrowid, user.name, user.age, user.country, user.plan, 0))


@users.get("/{user_id}", responses={404: {"description": "no such user"}})
def get_user(user_id: Annotated[int, Ge(1)], db: Database) -> User:
    row = db.conn.execute("SELECT id, name, age, country, plan, avatar_bytes FROM users "
                          "WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise HTTPError(404, "no such user")
    return _user(row)


@users.delete("/{user_id}", status_code=204, dependencies=[require_admin])
def delete_user(user_id: Annotated[int, Ge(1)], db: Database) -> None:
    """Admins only (X-Admin-Key)."""
    if db.conn.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount == 0:
        raise HTTPError(404, "no such user")
    db.conn.commit()
    frostfork.audit("user.deleted", user_id=user_id)


@users.get("")
def list_users(db: Database, limit: Annotated[int, Ge(1), Le(100)] = 20,
               plan: Literal["free", "pro"] | None = None) -> list[User]:
    sql = "SELECT id, name, age, country, plan, avatar_bytes FROM users"
    args: tuple = ()
    if plan:
        sql, args = sql + " WHERE plan = ?", (plan,)
    return [_user(r) for r in db.conn.execute(sql + " ORDER BY id LIMIT ?", (*args, limit))]


@users.put("/{user_id}/avatar")
def upload_avatar(user_id: Annotated[int, Ge(1)], request: Request, db: Database) -> dict:
    """Upload an avatar; large bodies arrive spooled to a file removed at the end of the
    request, and request.stream() reads that file in blocks instead of copying it."""
    h, size, stream = hashlib.sha256(), 0, request.stream()
    while block := stream.read(1 << 16):
        h.update(block)
        size += len(block)
    digest = h.hexdigest()
    cur = db.conn.execute("UPDATE users SET avatar_bytes = ? WHERE id = ?", (size, user_id))
    db.conn.commit()
    if cur.rowcount == 0:
        raise HTTPError(404, "no such user")
    frostfork.audit("user.avatar", user_id=user_id, size=size, sha256=digest)
    return {"user_id": user_id, "size": size, "sha256": digest}


@app.get("/audit")
def audit_trail(limit: Annotated[int, Ge(1), Le(500)] = 50,
                event: Annotated[str | None, Query()] = None) -> list[dict]:
    """The newest audit records (written by every worker through the SQLite DataSink)."""
    with sqlite3.connect(AUDIT_PATH, timeout=5) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, at TEXT, record TEXT)")
        rows = conn.execute("SELECT at, record FROM audit ORDER BY id DESC LIMIT ?",
                            (limit,)).fetchall()
    records = [dict(json.loads(rec), at=at) for at, rec in rows]
    return [r for r in records if event is None or r.get("event") == event]


@app.get("/postcodes/{code}")
def postcode(code: Annotated[str, Pattern(r"^\d{5}$")]) -> dict:
    """A lookup in the table shared by every worker."""
    found = app.state.postcodes.get(code)
    if found is None:
        raise HTTPError(404, "unknown postcode")
    return {"code": code, "town": found[1]}


@app.get("/")
def index() -> dict:
    return {"service": "frostfork example", "docs": "/openapi.json",
            "countries": len(app.state.countries), "postcodes": len(app.state.postcodes)}


app.include(users)
