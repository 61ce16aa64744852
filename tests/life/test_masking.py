"""A Sensitive value appears in no output: not in logs, 422s, tracebacks or audit records."""

import signal
import sqlite3

import httpx

from conftest import SLOW, wait_until

SECRET = "zebra-quartz-7731-SECRET"


def test_secret_never_appears_anywhere(serve, tmp_path):
    access = tmp_path / "access.log"
    audit = tmp_path / "audit.db"
    srv = serve("life_app:app", env={"FF_ACCESS": str(access), "FF_AUDIT": str(audit)})
    base = f"http://127.0.0.1:{srv.port}"
    responses = []
    with httpx.Client(timeout=10 * SLOW) as c:
        # valid request (audited), 422 (too short / wrong type), handler exception (secret in
        # the exception message), secrets in sensitive headers and query names
        responses.append(c.post(base + "/login", json={"user": "alice", "password": SECRET}))
        responses.append(c.post(base + "/login", json={"user": "al", "password": SECRET[:5]}))
        responses.append(c.post(base + "/login", json={"user": "bob", "password": 12345}))
        responses.append(c.post(base + "/login", json={"user": "crash", "password": SECRET}))
        responses.append(c.get(base + f"/ok?password={SECRET}&token={SECRET}",
                               headers={"Authorization": f"Bearer {SECRET}"}))
    assert [r.status_code for r in responses] == [200, 422, 422, 500, 200]
    assert responses[1].json()["detail"][0]["loc"] == ["body", "user"]
    # every request is in the access log before the drain (which flushes the rest)
    wait_until(lambda: access.exists() and access.read_text().count('"status":') >= 5,
               what="five requests in the access log")
    srv.signal(signal.SIGTERM)
    srv.proc.wait(timeout=15 * SLOW)
    outputs = {
        "responses": "".join(r.text for r in responses),
        "server output": srv.output(),
        "access log": access.read_text(),
        "audit": "\n".join(r[0] for r in sqlite3.connect(audit).execute("SELECT record FROM audit")),
    }
    assert "cannot log in crash with ***" in outputs["server output"]
    assert "/ok?password=***&token=***" in outputs["access log"]
    assert '"user":"alice"' in outputs["audit"] and '"password":"***"' in outputs["audit"]
    for where, text in outputs.items():
        assert SECRET not in text, f"secret leaked into the {where}"
        assert SECRET[:5] not in text or where == "audit", f"short secret leaked into {where}"
