"""deploy/nginx/frostfork.conf: `nginx -t` accepts it, and a real nginx with it
spreads requests over several real frostfork instances, forwards the proxy
headers, and fails over when an instance goes away.

nginx is a test dependency (`make test` installs it via `make system-deps`): when
it is missing these tests fail, they do not skip.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, SLOW, free_port

CONF = ROOT / "deploy" / "nginx" / "frostfork.conf"
# nginx is not ours to sanitize: keep the sanitizer run's preload away from it.
NGINX_ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def nginx() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)
    if not found:
        pytest.fail("nginx is not installed: `make system-deps` (run by `make test`) installs "
                    "Debian's nginx, or: apt-get install nginx")
    return found


def full_config(prefix: Path, include: Path) -> Path:
    """A minimal nginx.conf around the http-context file, everything under `prefix`,
    so nginx runs without privileges and touches nothing outside the temp dir."""
    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / d).mkdir(exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(f"""\
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {include};
}}
""")
    return conf


def nginx_test(prefix: Path, include: Path) -> subprocess.CompletedProcess:
    conf = full_config(prefix, include)
    return subprocess.run([nginx(), "-t", "-p", str(prefix), "-e", str(prefix / "error.log"),
                           "-c", str(conf)], capture_output=True, text=True, timeout=30,
                          env=NGINX_ENV)


def test_nginx_t_accepts_the_config(tmp_path):
    out = nginx_test(tmp_path, CONF)
    assert out.returncode == 0, out.stderr
    assert "test is successful" in out.stderr


def test_nginx_t_really_reads_it(tmp_path):
    """A broken copy must fail `nginx -t`, or the test above proves nothing."""
    broken = tmp_path / "broken.conf"
    broken.write_text(CONF.read_text().replace("keepalive 32;", "keepalive 32", 1))
    out = nginx_test(tmp_path, broken)
    assert out.returncode != 0 and "broken.conf" in out.stderr


def test_upstream_has_several_instances_with_failover_and_keepalive():
    text = CONF.read_text()
    upstream = re.search(r"upstream frostfork \{(.*?)\n\}", text, re.S).group(1)
    servers = re.findall(r"^\s*server (\S+) (.*);", upstream, re.M)
    assert len(servers) >= 2
    for _, params in servers:
        assert "max_fails=" in params and "fail_timeout=" in params
    assert re.search(r"^\s*keepalive \d+;", upstream, re.M)
    timeout = re.search(r"^\s*keepalive_timeout (\d+)s;", upstream, re.M)
    assert timeout and int(timeout.group(1)) < 5, "below frostfork's default --keepalive 5"
    assert 'proxy_set_header Connection "";' in text and "proxy_http_version 1.1;" in text
    assert re.search(r"proxy_next_upstream error timeout", text)


HEADERS_APP = '''\
import os
import frostfork
from frostfork import Request

app = frostfork.App()


@app.get("/who")
def who(request: Request) -> dict:
    return {"pid": os.getppid(), "headers": request.headers}
'''


def test_real_nginx_balances_forwards_and_fails_over(serve, tmp_path):
    (tmp_path / "nginx_headers_app.py").write_text(HEADERS_APP)
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}:{ROOT / 'tests' / 'apps'}"}
    instances = [serve("nginx_headers_app:app", env=env) for _ in range(3)]
    masters = {s.proc.pid for s in instances}

    # The deploy file, with the listen address and instances of this test.
    listen = free_port()
    text = CONF.read_text().replace("listen 80;", f"listen 127.0.0.1:{listen};")
    ports = iter(s.port for s in instances)
    text = re.sub(r"server 127\.0\.0\.1:800\d", lambda m: f"server 127.0.0.1:{next(ports)}", text)
    assert next(ports, None) is None, "the config should list exactly three instances"
    site = tmp_path / "site.conf"
    site.write_text(text)
    conf = full_config(tmp_path, site)
    proxy = subprocess.Popen([nginx(), "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                              "-c", str(conf), "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=NGINX_ENV)
    try:
        url = f"http://127.0.0.1:{listen}"
        deadline = time.monotonic() + 10 * SLOW
        while True:
            try:
                httpx.get(f"{url}/_frostfork/health", timeout=2)
                break
            except httpx.TransportError:
                assert proxy.poll() is None, proxy.stderr.read().decode()
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)

        with httpx.Client(timeout=10 * SLOW) as client:
            seen = set()
            for _ in range(9):
                r = client.get(f"{url}/who", headers={"X-Request-Id": "ignored-by-nginx"})
                assert r.status_code == 200
                seen.add(r.json()["pid"])
            assert seen == masters, "round robin reaches every instance"
            headers = r.json()["headers"]
            assert headers["x-forwarded-for"] == "127.0.0.1"
            assert headers["x-real-ip"] == "127.0.0.1"
            assert headers["x-forwarded-proto"] == "http"
            assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])  # nginx's $request_id
            assert headers["host"] == "127.0.0.1"
            assert client.get(f"{url}/_frostfork/ready").text == "ready"

            # One instance goes away (a restart, a crash): every request still succeeds.
            gone = instances[1]
            gone.signal(signal.SIGTERM)
            gone.proc.wait(timeout=15 * SLOW)
            statuses, answered = [], set()
            for _ in range(12):
                r = client.get(f"{url}/who")
                statuses.append(r.status_code)
                if r.status_code == 200:
                    answered.add(r.json()["pid"])
            assert statuses == [200] * 12, statuses
            assert answered == masters - {gone.proc.pid}
    finally:
        proxy.send_signal(signal.SIGQUIT)
        try:
            proxy.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proxy.kill()
            proxy.wait(timeout=5)
