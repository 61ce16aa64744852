"""create_table: DDL that a real SQLite database enforces."""

from __future__ import annotations

import decimal
from contextlib import closing
import enum
import sqlite3
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional, TypedDict

import annotated_types as at
import pytest

from frostfork.constraints import (Ge, Gt, Le, Len, Lt, MaxLen, MinLen, MultipleOf, Pattern,
                                   Sensitive)
from frostfork.schema import SchemaError
from frostfork.sql import create_table


class Role(enum.Enum):
    ADMIN = "admin"
    USER = "user"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class FakeModel:
    """Stands in for frostfork.model.Model."""

    __frostfork_model__ = True


@dataclass
class Address:
    street: str
    city: str


@dataclass
class NewUser:
    id: Optional[int]
    name: Annotated[str, MinLen(3), MaxLen(8)]
    password: Annotated[str, Len(12), Sensitive()]
    age: Annotated[int, Ge(0), Le(150)]
    score: Annotated[float, Gt(0), Lt(1)]
    balance: Annotated[decimal.Decimal, at.Ge(0)]
    step: Annotated[int, MultipleOf(5)]
    active: bool
    role: Role
    priority: Priority
    plan: Literal["free", "pro"]
    avatar: Annotated[bytes, MaxLen(4)]
    slug: Annotated[str, Pattern("^[a-z]+$")]
    address: Address
    tags: list[str]
    nickname: Optional[Annotated[str, MinLen(2)]] = None
    country: str = "DE"
    quota: int = 10
    ratio: float = 0.5
    verified: bool = False
    default_role: Role = Role.USER
    notes: list[str] = field(default_factory=list)


VALID = {
    "id": None, "name": "alice", "password": "x" * 12, "age": 30, "score": 0.5,
    "balance": "10.50", "step": 15, "active": True, "role": "admin", "priority": 2,
    "plan": "pro", "avatar": b"\x00\x01", "slug": "alice", "address": '{"street": "a"}',
    "tags": '["x"]',
}


def test_ddl_text():
    assert create_table(NewUser) == """\
CREATE TABLE IF NOT EXISTS "new_user" (
    "id" INTEGER PRIMARY KEY,
    "name" TEXT NOT NULL CHECK (length("name") >= 3) CHECK (length("name") <= 8),
    "password" TEXT NOT NULL CHECK (length("password") >= 12),
    "age" INTEGER NOT NULL CHECK ("age" >= 0) CHECK ("age" <= 150),
    "score" REAL NOT NULL CHECK ("score" > 0) CHECK ("score" < 1),
    "balance" NUMERIC NOT NULL CHECK ("balance" >= 0),
    "step" INTEGER NOT NULL CHECK ("step" % 5 = 0),
    "active" INTEGER NOT NULL CHECK ("active" IN (0, 1)),
    "role" TEXT NOT NULL CHECK ("role" IN ('admin', 'user')),
    "priority" INTEGER NOT NULL CHECK ("priority" IN (1, 2)),
    "plan" TEXT NOT NULL CHECK ("plan" IN ('free', 'pro')),
    "avatar" BLOB NOT NULL CHECK (length("avatar") <= 4),
    "slug" TEXT NOT NULL,
    "address" TEXT NOT NULL,
    "tags" TEXT NOT NULL,
    "nickname" TEXT CHECK (length("nickname") >= 2),
    "country" TEXT NOT NULL DEFAULT 'DE',
    "quota" INTEGER NOT NULL DEFAULT 10,
    "ratio" REAL NOT NULL DEFAULT 0.5,
    "verified" INTEGER NOT NULL DEFAULT 0 CHECK ("verified" IN (0, 1)),
    "default_role" TEXT NOT NULL DEFAULT 'user' CHECK ("default_role" IN ('admin', 'user')),
    "notes" TEXT NOT NULL
)"""


@pytest.fixture
def db(tmp_path):
    connection = sqlite3.connect(tmp_path / "users.db")
    connection.execute(create_table(NewUser))
    yield connection
    connection.close()


def insert(db: sqlite3.Connection, row: dict[str, Any]) -> int:
    """Inserts a row (notes filled in: a factory default has no SQL DEFAULT) and returns its id."""
    row = {"notes": "[]", **row}
    columns = ", ".join(f'"{name}"' for name in row)
    marks = ", ".join("?" for _ in row)
    cursor = db.execute(f'INSERT INTO "new_user" ({columns}) VALUES ({marks})', list(row.values()))
    return cursor.lastrowid


def test_valid_row_is_stored_with_defaults(db):
    rowid = insert(db, VALID)
    row = db.execute('SELECT "id", "country", "quota", "ratio", "verified", "default_role", '
                     '"nickname" FROM "new_user"').fetchone()
    assert row == (rowid, "DE", 10, 0.5, 0, "user", None)
    assert rowid == 1 and insert(db, VALID) == 2  # INTEGER PRIMARY KEY fills in ids


def test_table_is_created_only_once(db):
    insert(db, VALID)
    db.execute(create_table(NewUser))  # IF NOT EXISTS: the table and its row stay
    assert db.execute('SELECT count(*) FROM "new_user"').fetchone() == (1,)
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone() == (1,)


@pytest.mark.parametrize("column,value", [
    ("name", "al"), ("name", "x" * 9), ("password", "short"), ("age", -1), ("age", 151),
    ("score", 0), ("score", 1.0), ("balance", "-0.01"), ("step", 7), ("active", 2),
    ("role", "root"), ("priority", 3), ("plan", "gold"), ("avatar", b"12345"),
    ("nickname", "x"),
])
def test_database_rejects_each_check(db, column, value):
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        insert(db, {**VALID, column: value})


@pytest.mark.parametrize("column", [
    "name", "password", "age", "score", "balance", "step", "active", "role", "priority",
    "plan", "avatar", "slug", "address", "tags",
])
def test_database_rejects_null_in_required_columns(db, column):
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL constraint failed"):
        insert(db, {**VALID, column: None})


def test_pattern_has_no_check(db):
    """SQLite has no regular expressions: the pattern is left to the app."""
    rowid = insert(db, {**VALID, "slug": "NOT A SLUG"})
    assert db.execute('SELECT "slug" FROM "new_user" WHERE "id" = ?', [rowid]).fetchone() == (
        "NOT A SLUG",)


def test_optional_columns_take_null(db):
    rowid = insert(db, {**VALID, "id": None, "nickname": None})
    assert db.execute('SELECT "nickname" FROM "new_user" WHERE "id" = ?', [rowid]).fetchone() == (
        None,)
    rowid = insert(db, {**VALID, "nickname": "al"})
    assert db.execute('SELECT "nickname" FROM "new_user" WHERE "id" = ?', [rowid]).fetchone() == (
        "al",)


class Movie(TypedDict, total=False):
    title: Annotated[str, MinLen(1)]
    year: int


class Account(FakeModel):
    id: int
    email: Annotated[str, at.MaxLen(64)]
    role: str
    __frostfork_defaults__ = {"role": "it's me"}


def test_typeddict_keys_that_may_be_absent_are_nullable(tmp_path):
    ddl = create_table(Movie, table="films")
    assert ddl == ('CREATE TABLE IF NOT EXISTS "films" (\n'
                   '    "title" TEXT CHECK (length("title") >= 1),\n'
                   '    "year" INTEGER\n)')
    with closing(sqlite3.connect(tmp_path / "m.db")) as db:
        db.execute(ddl)
        db.execute('INSERT INTO "films" ("year") VALUES (1999)')
        with pytest.raises(sqlite3.IntegrityError):
            db.execute('INSERT INTO "films" ("title") VALUES (\'\')')


def test_frostfork_model_and_quoted_default(tmp_path):
    ddl = create_table(Account)
    assert '"id" INTEGER PRIMARY KEY' in ddl
    assert """"role" TEXT NOT NULL DEFAULT 'it''s me'""" in ddl
    with closing(sqlite3.connect(tmp_path / "a.db")) as db:
        db.execute(ddl)
        db.execute('INSERT INTO "account" ("email") VALUES (?)', ["a@b.c"])
        assert db.execute('SELECT "id", "role" FROM "account"').fetchone() == (1, "it's me")
        with pytest.raises(sqlite3.IntegrityError):
            db.execute('INSERT INTO "account" ("email") VALUES (?)', ["x" * 65])


def test_identifiers_are_quoted(tmp_path):
    @dataclass
    class Order:
        select: Annotated[int, Ge(1)]
        group: str

    ddl = create_table(Order, table='odd "name"')
    assert ddl.startswith('CREATE TABLE IF NOT EXISTS "odd ""name""" (')
    with closing(sqlite3.connect(tmp_path / "o.db")) as db:
        db.execute(ddl)
        db.execute('INSERT INTO "odd ""name""" ("select", "group") VALUES (1, \'g\')')
        with pytest.raises(sqlite3.IntegrityError):
            db.execute('INSERT INTO "odd ""name""" ("select", "group") VALUES (0, \'g\')')


def test_table_name_defaults_to_snake_case():
    @dataclass
    class HTTPLogEntry:
        line: str

    assert create_table(HTTPLogEntry).startswith('CREATE TABLE IF NOT EXISTS "http_log_entry"')


def test_unions_and_any_are_nullable_json_text():
    @dataclass
    class Event:
        payload: Any
        value: int | str | None
        either: int | str

    ddl = create_table(Event)
    assert '"payload" TEXT,' in ddl
    assert '"value" TEXT,' in ddl
    assert '"either" TEXT NOT NULL' in ddl


def test_only_models_make_tables():
    with pytest.raises(SchemaError, match="create_table needs a dataclass"):
        create_table(list[int])  # type: ignore[arg-type]


class Level(enum.Enum):
    LOW = 0.5
    UNKNOWN = float("nan")  # a JSON number, but no SQL literal


@dataclass
class Paint:
    level: Level
    role: Role


def test_choice_sql_cannot_spell_gets_no_check():
    """An enum with a value that has no SQL literal gets no CHECK at all (not
    a partial one, not a crash); the other columns keep theirs."""
    ddl = create_table(Paint)
    assert '"level" IN' not in ddl and """"role" IN ('admin', 'user')""" in ddl, ddl
    with closing(sqlite3.connect(":memory:")) as db:
        db.execute(ddl)
        # level takes a value outside its enum, role still only its own
        db.execute('INSERT INTO "paint" ("level", "role") VALUES (?, ?)', [0.25, "admin"])
        assert db.execute('SELECT count(*) FROM "paint"').fetchone() == (1,)
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            db.execute('INSERT INTO "paint" ("level", "role") VALUES (?, ?)', [0.5, "root"])
