"""frostfork.security over real sockets: 401 with WWW-Authenticate when the
credential is missing, values as the handler gets them, auto_error=False,
dependencies=[scheme], and credentials masked in tracebacks and logs."""

from __future__ import annotations

import base64

from framework_support import events, framework  # noqa: F401 (fixtures)


def test_missing_credentials_are_401_with_a_challenge(framework):
    srv = framework()
    for path, challenge in (("/secure/key", "APIKey"), ("/secure/query", "APIKey"),
                            ("/secure/bearer", "Bearer"), ("/secure/basic", 'Basic realm="frost"')):
        r = srv.get(path)
        assert r.status_code == 401, path
        assert r.json() == {"detail": "Not authenticated"}
        assert r.headers["www-authenticate"] == challenge
    # another scheme's Authorization, or an empty credential, is missing too
    assert srv.get("/secure/bearer", headers={"Authorization": "Basic abc"}).status_code == 401
    assert srv.get("/secure/bearer", headers={"Authorization": "Bearer"}).status_code == 401
    r = srv.get("/secure/basic", headers={"Authorization": "Basic !!notbase64"})
    assert r.status_code == 401 and r.json() == {"detail": "Invalid authentication credentials"}
    no_colon = base64.b64encode(b"justuser").decode()
    assert srv.get("/secure/basic",
                   headers={"Authorization": f"Basic {no_colon}"}).status_code == 401


def test_credentials_reach_the_handler(framework):
    srv = framework()
    assert srv.get("/secure/key", headers={"X-Key": "right"}).json() == {"key": "ok"}
    r = srv.get("/secure/key", headers={"x-key": "wrong"})  # the app's own check
    assert r.status_code == 401 and r.json() == {"detail": "bad key"}
    assert srv.get("/secure/query?key=abcd").json() == {"len": 4}
    assert srv.get("/secure/bearer", headers={"Authorization": "bearer t0k"}).json() == {
        "scheme": "bearer", "token": "t0k"}
    cred = base64.b64encode("bob:pä:ss".encode()).decode()
    assert srv.get("/secure/basic", headers={"Authorization": f"Basic {cred}"}).json() == {
        "user": "bob", "password_len": 5}
    assert srv.get("/secure/cookie").status_code == 401
    assert srv.get("/secure/cookie", headers={"Cookie": "a=1; sid=s-1"}).json() == {"sid": "s-1"}
    assert srv.get("/secure/optional").json() == {"token": None}
    assert srv.get("/secure/optional",
                   headers={"Authorization": "Bearer abc"}).json() == {"token": "abc"}


def test_a_scheme_in_route_dependencies_guards_it(framework):
    srv = framework()
    import httpx
    assert httpx.delete(srv.url("/secure/thing")).status_code == 401
    r = httpx.delete(srv.url("/secure/thing"), headers={"X-Key": "k"})
    assert r.status_code == 200 and r.json() == {"deleted": True}


def test_credentials_are_masked_in_tracebacks_and_the_access_log(framework, tmp_path):
    log = tmp_path / "access.log"
    srv = framework("--access-log", str(log))
    r = srv.get("/secure/leak", headers={"X-Key": "hunter2-secret-key"})
    assert r.status_code == 500
    out = srv.wait_output("ValueError: failed with ***")
    assert "hunter2-secret-key" not in out
    srv.get("/secure/query?key=query-secret-value")
    from conftest import wait_until
    text = wait_until(lambda: log.read_text() if log.exists() and "/secure/query" in
                      log.read_text() else "", what="access log line")
    assert "query-secret-value" not in text and "hunter2" not in text


def test_malformed_credentials_are_401_never_5xx(framework):
    from conftest import exchange, parse_responses
    srv = framework()
    values = [b"Basic", b"Basic =", b"Basic \xff\xfe", b"Basic " + base64.b64encode(b"\xff:\xfe"),
              b"Bearer \xff", b"bearer  spaced", b"Digest x", b"basic " + base64.b64encode(b":")]
    for value in values:
        for path in ("/secure/basic", "/secure/bearer"):
            data, _ = exchange(srv.port, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n"
                               b"Authorization: " + value + b"\r\nConnection: close\r\n\r\n")
            (status, _, body), = parse_responses(data)
            assert status in (200, 401), (path, value, status, body)
    data, _ = exchange(srv.port, b"GET /secure/query?key=%FF HTTP/1.1\r\nHost: t\r\n"
                                 b"Connection: close\r\n\r\n")
    (status, headers, body), = parse_responses(data)
    assert status == 401 and b"Invalid authentication credentials" in body
    assert srv.get("/secure/key", headers={"X-Key": "right"}).status_code == 200
