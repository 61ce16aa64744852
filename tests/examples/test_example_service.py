"""The example service end to end, with a real client against a real server."""

import hashlib
import sqlite3

import httpx
import pytest

from conftest import SLOW, wait_until


@pytest.fixture
def svc(serve, tmp_path):
    (tmp_path / "spool").mkdir()
    s = serve("examples.app:app", "--workers", "2", "--spool-dir", str(tmp_path / "spool"),
              "--spool-threshold", "64k", env={"FROSTFORK_EXAMPLE_DIR": str(tmp_path / "data"),
                                                "FROSTFORK_EXAMPLE_ADMIN_KEY": "admin-key-1"})
    s.data = tmp_path / "data"
    s.spool = tmp_path / "spool"
    return s


def test_scripted_client_run(svc):
    base = f"http://127.0.0.1:{svc.port}"
    with httpx.Client(base_url=base, timeout=20 * SLOW) as c:
        r = c.post("/users", json={"name": "alice", "password": "correct horse battery",
                                   "age": 34, "country": "SE", "plan": "pro"})
        assert r.status_code == 201, r.text
        alice = r.json()
        assert alice["name"] == "alice" and alice["country_name"] == "Country SE"
        assert "password" not in alice and "password_hash" not in alice
        assert c.post("/users", json={"name": "alice", "password": "another long one!",
                                      "age": 20}).status_code == 409

        bad = c.post("/users", json={"name": "X", "password": "hush-9x", "age": 7, "country": "sweden"})
        assert bad.status_code == 422
        assert {tuple(e["loc"]) for e in bad.json()["detail"]} == {
            ("body", "name"), ("body", "password"), ("body", "age"), ("body", "country")}
        assert "hush-9x" not in bad.text

        avatar = bytes(range(256)) * 1024  # 256 KiB: spooled
        up = c.put(f"/users/{alice['id']}/avatar", content=avatar)
        assert up.json() == {"user_id": alice["id"], "size": len(avatar),
                             "sha256": hashlib.sha256(avatar).hexdigest()}
        assert c.get(f"/users/{alice['id']}").json()["avatar_bytes"] == len(avatar)
        assert c.get("/users/999").json() == {"detail": "no such user"}
        assert c.get("/postcodes/04242").json() == {"code": "04242", "town": "Town 4242"}

        events = wait_until(lambda: (lambda ev: ev if "user.avatar" in ev else None)(
            [r["event"] for r in c.get("/audit").json()]), 5, what="the avatar audit record")
        assert events[:2] == ["user.avatar", "user.created"]
        assert c.get("/audit", params={"event": "user.created"}).json()[0]["user"] == "alice"

        bob = c.post("/users", json={"name": "bob", "password": "0123456789ab", "age": 40})
        assert bob.status_code == 201
        gone = f"/users/{bob.json()['id']}"
        r = c.delete(gone)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "APIKey"
        assert c.delete(gone, headers={"X-Admin-Key": "wrong"}).status_code == 403
        assert c.delete(gone, headers={"X-Admin-Key": "admin-key-1"}).status_code == 204
        assert c.get(gone).status_code == 404
        assert "admin-key-1" not in svc.output()

        doc = c.get("/openapi.json").json()
        assert doc["paths"]["/users/{user_id}"]["delete"]["security"] == [{"APIKeyHeader": []}]
        assert doc["components"]["schemas"]["NewUser"]["properties"]["password"]["writeOnly"]

    stored = sqlite3.connect(svc.data / "users.db").execute(
        "SELECT password_hash, salt FROM users WHERE name = 'alice'").fetchone()
    assert len(stored[0]) == 128 and "correct horse" not in stored[0]
    assert list(svc.spool.rglob("body-*")) == []
    assert "correct horse battery" not in svc.output()


def test_the_database_enforces_the_model_constraints(svc):
    conn = sqlite3.connect(svc.data / "users.db")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO users (name, password_hash, salt, age, country, plan) "
                     "VALUES ('bob', ?, ?, 5, 'NO', 'free')", ("0" * 64, "0" * 32))


def test_in_process_with_the_test_client(tmp_path, monkeypatch):
    """The same service through frostfork.testing.Client: no socket, no fork; the
    startup hook runs on enter, and routes, the yield dependency, HTTPError, the
    API-key guard and the 422 shape answer as they do over the network."""
    import importlib.util
    import sys

    from conftest import ROOT
    from frostfork.testing import Client

    monkeypatch.setenv("FROSTFORK_EXAMPLE_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FROSTFORK_EXAMPLE_ADMIN_KEY", "admin-key-2")
    spec = importlib.util.spec_from_file_location("example_app_in_process",
                                                  ROOT / "examples" / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their hints through it
    try:
        spec.loader.exec_module(module)
        with Client(module.app) as c:
            index = c.get("/").json()
            assert index["countries"] == 26 * 26 and index["postcodes"] == 100_000
            assert c.get("/postcodes/00042").json() == {"code": "00042", "town": "Town 42"}
            assert c.get("/postcodes/4").status_code == 422
            missing = c.get("/users/999")
            assert missing.status_code == 404 and missing.json() == {"detail": "no such user"}
            assert c.get("/users", params={"limit": 5}).json() == []
            assert c.delete("/users/1").status_code == 401
            assert c.delete("/users/1", headers={"X-Admin-Key": "wrong"}).status_code == 403
            assert c.delete("/users/1", headers={"X-Admin-Key": "admin-key-2"}).status_code == 404
            bad = c.post("/users", json={"name": "X", "password": "short", "age": -1})
            assert bad.status_code == 422
            assert {tuple(e["loc"]) for e in bad.json()["detail"]} >= {("body", "name"),
                                                                       ("body", "age")}
    finally:
        sys.modules.pop(spec.name, None)
