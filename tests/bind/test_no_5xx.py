"""No client input produces a 5xx: random and mutated bodies, queries and headers."""

import json
import random

import httpx

from conftest import Server

SEED_BODIES = [
    {"name": "alice", "password": "correct horse battery", "age": 30,
     "addresses": [{"city": "Oslo", "zip": "01234"}], "role": "admin", "nickname": None},
    {"title": "t", "price": 1.5, "tags": ["a"]},
    {"item": {"title": "t", "price": 0}, "note": {"a": 1}, "flag": True},
    {"kind": "a", "limit": 3},
]
PATHS = [("POST", "/users"), ("POST", "/users/echo"), ("POST", "/items"), ("POST", "/pair"),
         ("POST", "/filter"), ("GET", "/search"), ("GET", "/whoami"), ("GET", "/items/1")]
ATOMS = [None, True, False, 0, -1, 2**70, 1.5e308, -0.0, "", "x" * 3000, "é", "\u0000", [], {},
         [[[[]]]], {"a": {"b": {}}}, "2024-01-01T00:00:00Z", "12345678-1234-5678-1234-567812345678"]


def mutate(rng, value, depth=0):
    if depth > 4 or rng.random() < 0.3:
        return rng.choice(ATOMS)
    if isinstance(value, dict):
        out = {k: mutate(rng, v, depth + 1) if rng.random() < 0.5 else v for k, v in value.items()}
        if rng.random() < 0.3:
            out[rng.choice(["extra", "name", "", "\u00ff"])] = rng.choice(ATOMS)
        if out and rng.random() < 0.3:
            out.pop(rng.choice(list(out)))
        return out
    if isinstance(value, list):
        return [mutate(rng, v, depth + 1) for v in value] + ([rng.choice(ATOMS)] if rng.random() < 0.3 else [])
    return rng.choice(ATOMS)


def raw_garbage(rng):
    text = json.dumps(mutate(rng, rng.choice(SEED_BODIES))).encode()
    cut = rng.randrange(len(text) + 1)
    junk = bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
    return text[:cut] + junk + text[cut:] if rng.random() < 0.5 else text[:cut]


def test_random_inputs_never_get_a_5xx():
    rng = random.Random(20261127)
    srv = Server("typed_app:app")
    statuses = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", timeout=10) as c:
            for i in range(600):
                method, path = rng.choice(PATHS)
                if i % 2:
                    body = json.dumps(mutate(rng, rng.choice(SEED_BODIES))).encode()
                else:
                    body = raw_garbage(rng)
                params = {rng.choice(["q", "page", "tag", "role", "exact"]): rng.choice(
                    ["", "0", "-5", "x" * 50, "admin", "true", "1e309", "%ff"]) for _ in range(3)}
                headers = {"X-Trace": rng.choice(["", "nope", "12345678123456781234567812345678"]),
                           "Cookie": rng.choice(["", "session", "session=", "a=b; session=x"])}
                if path.startswith("/whoami") and rng.random() < 0.5:
                    headers["User-Agent"] = rng.choice(["", "x" * 500])
                r = c.request(method, path, content=body if method == "POST" else None,
                              params=params, headers=headers)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                assert r.status_code < 500, (method, path, body[:300], params, r.text[:500])
        assert {400, 422} <= set(statuses), statuses  # the fuzz reached both error paths
    finally:
        srv.stop()
        srv.check_clean()
