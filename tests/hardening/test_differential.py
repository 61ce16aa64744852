"""Differential framing test: frostfork vs gunicorn on RFC 9112 section 6 edge cases.

Every row of ROWS is sent as raw bytes over a real socket to gunicorn (gthread
worker, keep-alive on) and to frostfork (--wsgi), both serving the same tiny
WSGI app (tests/apps/fault_app.py:wsgi, which reports the body length it was
given). For each server we record what came back: the status of every
response on the connection (several when a body was framed so that bytes were
left over as another request) and whether the server closed the connection.

The test asserts frostfork's answer for every row exactly (EXPECTED), and that
gunicorn disagrees exactly on the rows listed in DISAGREEMENTS, each with the
reason frostfork's answer is the one we want. A new disagreement, or a listed
one that went away (gunicorn or frostfork changed), fails the test: then the
table needs a look, not a silent pass.

Result notation: "200 200 open" = two 200 responses, connection kept open;
"400 closed" = one 400, then the server closed; "- open" = no response yet
(the server is waiting for more bytes); "- closed" = closed without a word.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ROOT, SLOW, free_port

H = b"Host: t\r\n"
POST = b"POST /p HTTP/1.1\r\n" + H
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"
TE = b"Transfer-Encoding: "
CL = b"Content-Length: "
NEXT = b"GET /next HTTP/1.1\r\n" + H + b"\r\n"  # a pipelined follow-up request

# name -> raw request bytes. Most rows end with NEXT, so that how the server
# framed the first message shows in whether (and how) the second is answered.
ROWS: dict[str, bytes] = {
    # baselines
    "get": b"GET / HTTP/1.1\r\n" + H + b"\r\n" + NEXT,
    "cl body": POST + CL + b"5\r\n\r\nhello" + NEXT,
    "cl zero": POST + CL + b"0\r\n\r\n" + NEXT,
    "chunked": CHUNKED + b"5\r\nhello\r\n0\r\n\r\n" + NEXT,
    "chunked two chunks": CHUNKED + b"2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n" + NEXT,
    "chunked with trailer": CHUNKED + b"5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n" + NEXT,
    "http/1.0 cl": b"POST /p HTTP/1.0\r\n" + CL + b"5\r\n\r\nhello",
    # 6.1/6.3: Content-Length together with Transfer-Encoding (request smuggling)
    "cl+te": POST + CL + b"5\r\n" + TE + b"chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + NEXT,
    "te+cl": POST + TE + b"chunked\r\n" + CL + b"5\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + NEXT,
    "cl+te smuggle": POST + CL + b"6\r\n" + TE + b"chunked\r\n\r\n0\r\n\r\nG" + NEXT,
    "cl+te identity": POST + CL + b"5\r\n" + TE + b"identity\r\n\r\nhello" + NEXT,
    # 6.3: Content-Length duplicated / list-valued / malformed
    "cl duplicated same": POST + CL + b"5\r\n" + CL + b"5\r\n\r\nhello" + NEXT,
    "cl duplicated differ": POST + CL + b"5\r\n" + CL + b"6\r\n\r\nhello!" + NEXT,
    "cl list same": POST + CL + b"5, 5\r\n\r\nhello" + NEXT,
    "cl list differ": POST + CL + b"5, 6\r\n\r\nhello!" + NEXT,
    "cl list empty element": POST + CL + b"5,\r\n\r\nhello" + NEXT,
    "cl plus sign": POST + CL + b"+5\r\n\r\nhello" + NEXT,
    "cl negative": POST + CL + b"-5\r\n\r\nhello" + NEXT,
    "cl hex": POST + CL + b"0x5\r\n\r\nhello" + NEXT,
    "cl trailing junk": POST + CL + b"5abc\r\n\r\nhello" + NEXT,
    "cl empty": POST + CL + b"\r\n\r\n" + NEXT,
    "cl inner space": POST + CL + b"5 5\r\n\r\nhello" + NEXT,
    "cl 20 digits": POST + CL + b"18446744073709551617\r\n\r\nhello" + NEXT,
    "cl over max body": POST + CL + b"17000000\r\n\r\nhello",
    "cl leading zeros": POST + CL + b"005\r\n\r\nhello" + NEXT,
    # 6.1: Transfer-Encoding codings
    "te chunked uppercase": POST + TE + b"CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + NEXT,
    "te gzip only": POST + TE + b"gzip\r\n\r\nhello" + NEXT,
    "te identity": POST + TE + b"identity\r\n\r\nhello" + NEXT,
    "te chunked then gzip": POST + TE + b"chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + NEXT,
    "te gzip then chunked": POST + TE + b"gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + NEXT,
    "te chunked twice": POST + TE + b"chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + NEXT,
    "te two fields": POST + TE + b"gzip\r\n" + TE + b"chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    + NEXT,
    "te unknown coding": POST + TE + b"xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + NEXT,
    "te empty list element": POST + TE + b", chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + NEXT,
    "te on http/1.0": b"POST /p HTTP/1.0\r\n" + TE + b"chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "te tab before value": POST + TE + b"\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + NEXT,
    # 7.1: chunk sizes
    "chunk size uppercase hex": CHUNKED + b"A\r\n0123456789\r\n0\r\n\r\n" + NEXT,
    "chunk size leading zeros": CHUNKED + b"0005\r\nhello\r\n0\r\n\r\n" + NEXT,
    "chunk size 17 digits": CHUNKED + b"00000000000000005\r\nhello\r\n0\r\n\r\n" + NEXT,
    "chunk size overflow": CHUNKED + b"10000000000000005\r\nhello\r\n0\r\n\r\n" + NEXT,
    "chunk size over max body": CHUNKED + b"1000001\r\nhello\r\n0\r\n\r\n" + NEXT,
    "chunk size negative": CHUNKED + b"-5\r\nhello\r\n0\r\n\r\n" + NEXT,
    "chunk size 0x prefix": CHUNKED + b"0x5\r\nhello\r\n0\r\n\r\n" + NEXT,
    "chunk size empty": CHUNKED + b"\r\nhello\r\n0\r\n\r\n" + NEXT,
    "chunk size space before crlf": CHUNKED + b"5 \r\nhello\r\n0\r\n\r\n" + NEXT,
    "chunk data too long": CHUNKED + b"5\r\nhelloXX\r\n0\r\n\r\n" + NEXT,
    # 7.1.1: chunk extensions
    "chunk ext token": CHUNKED + b"5;name=value\r\nhello\r\n0\r\n\r\n" + NEXT,
    "chunk ext bare name": CHUNKED + b"5;flag\r\nhello\r\n0\r\n\r\n" + NEXT,
    "chunk ext quoted": CHUNKED + b'5;n="a \\" b"\r\nhello\r\n0\r\n\r\n' + NEXT,
    "chunk ext bws": CHUNKED + b"5 ; n = v\r\nhello\r\n0\r\n\r\n" + NEXT,
    "chunk ext empty name": CHUNKED + b"5;=v\r\nhello\r\n0\r\n\r\n" + NEXT,
    "chunk ext ctl byte": CHUNKED + b"5;n=\x01\r\nhello\r\n0\r\n\r\n" + NEXT,
    "chunk ext huge": CHUNKED + b"5;n=" + b"v" * 5000 + b"\r\nhello\r\n0\r\n\r\n" + NEXT,
    # 2.2 / 7.1: bare LF and bare CR
    "bare lf in head": b"GET / HTTP/1.1\n" + b"Host: t\n\n" + NEXT,
    "bare lf after size": CHUNKED + b"5\nhello\r\n0\r\n\r\n" + NEXT,
    "bare lf after data": CHUNKED + b"5\r\nhello\n0\r\n\r\n" + NEXT,
    "bare lf last chunk": CHUNKED + b"5\r\nhello\r\n0\n\n" + NEXT,
    "bare cr in head": b"GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n" + NEXT,
    "bare cr after size": CHUNKED + b"5\rhello\r\n0\r\n\r\n" + NEXT,
    # NUL and other control bytes
    "nul in target": b"GET /a\x00b HTTP/1.1\r\n" + H + b"\r\n" + NEXT,
    "nul in header value": b"GET / HTTP/1.1\r\n" + H + b"X: a\x00b\r\n\r\n" + NEXT,
    "nul in header name": b"GET / HTTP/1.1\r\n" + H + b"X\x00Y: a\r\n\r\n" + NEXT,
    "ctl in header value": b"GET / HTTP/1.1\r\n" + H + b"X: a\x01b\r\n\r\n" + NEXT,
    "del in header value": b"GET / HTTP/1.1\r\n" + H + b"X: a\x7fb\r\n\r\n" + NEXT,
    "nul in chunk data": CHUNKED + b"5\r\nhe\x00lo\r\n0\r\n\r\n" + NEXT,
    "nul in chunk size": CHUNKED + b"5\x00\r\nhello\r\n0\r\n\r\n" + NEXT,
    "nul in trailer": CHUNKED + b"5\r\nhello\r\n0\r\nX: a\x00\r\n\r\n" + NEXT,
    "obs-text in value": b"GET / HTTP/1.1\r\n" + H + b"X: caf\xc3\xa9\r\n\r\n" + NEXT,
    # field syntax around framing headers
    "space before colon cl": POST + b"Content-Length : 5\r\n\r\nhello" + NEXT,
    "space before colon te": POST + b"Transfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    + NEXT,
    "obs-fold te": POST + TE + b"gzip,\r\n chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + NEXT,
    "missing host": b"GET / HTTP/1.1\r\n\r\n" + NEXT,
    "two hosts": b"GET / HTTP/1.1\r\n" + H + H + b"\r\n" + NEXT,
    "version 2.0": b"GET / HTTP/2.0\r\n" + H + b"\r\n",
    "lowercase version": b"GET / http/1.1\r\n" + H + b"\r\n",
    "double space in request line": b"GET  / HTTP/1.1\r\n" + H + b"\r\n" + NEXT,
    # framing-adjacent behaviour
    "expect 100-continue": POST + b"Expect: 100-continue\r\n" + CL + b"5\r\n\r\nhello" + NEXT,
    "cl in trailer ignored": CHUNKED + b"5\r\nhello\r\n0\r\nContent-Length: 99\r\n\r\n" + NEXT,
    "absolute-form target": b"GET http://t/abs HTTP/1.1\r\n" + H + b"\r\n" + NEXT,
    "connection close honoured": b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n" + NEXT,
}

# frostfork's answer for every row (see the module docstring for notation).
EXPECTED: dict[str, str] = {
    "get": "200 200 open",
    "cl body": "200 200 open",
    "cl zero": "200 200 open",
    "chunked": "200 200 open",
    "chunked two chunks": "200 200 open",
    "chunked with trailer": "200 200 open",
    "http/1.0 cl": "200 closed",
    "cl+te": "400 closed",
    "te+cl": "400 closed",
    "cl+te smuggle": "400 closed",
    "cl+te identity": "400 closed",
    "cl duplicated same": "200 200 open",
    "cl duplicated differ": "400 closed",
    "cl list same": "200 200 open",
    "cl list differ": "400 closed",
    "cl list empty element": "400 closed",
    "cl plus sign": "400 closed",
    "cl negative": "400 closed",
    "cl hex": "400 closed",
    "cl trailing junk": "400 closed",
    "cl empty": "400 closed",
    "cl inner space": "400 closed",
    "cl 20 digits": "400 closed",
    "cl over max body": "413 closed",
    "cl leading zeros": "200 200 open",
    "te chunked uppercase": "200 200 open",
    "te gzip only": "400 closed",
    "te identity": "400 closed",
    "te chunked then gzip": "400 closed",
    "te gzip then chunked": "501 closed",
    "te chunked twice": "400 closed",
    "te two fields": "501 closed",
    "te unknown coding": "400 closed",
    "te empty list element": "200 200 open",
    "te on http/1.0": "400 closed",
    "te tab before value": "200 200 open",
    "chunk size uppercase hex": "200 200 open",
    "chunk size leading zeros": "200 200 open",
    "chunk size 17 digits": "400 closed",
    "chunk size overflow": "413 closed",
    "chunk size over max body": "413 closed",
    "chunk size negative": "400 closed",
    "chunk size 0x prefix": "400 closed",
    "chunk size empty": "400 closed",
    "chunk size space before crlf": "400 closed",
    "chunk data too long": "400 closed",
    "chunk ext token": "200 200 open",
    "chunk ext bare name": "200 200 open",
    "chunk ext quoted": "200 200 open",
    "chunk ext bws": "200 200 open",
    "chunk ext empty name": "400 closed",
    "chunk ext ctl byte": "400 closed",
    "chunk ext huge": "400 closed",
    "bare lf in head": "400 closed",
    "bare lf after size": "400 closed",
    "bare lf after data": "400 closed",
    "bare lf last chunk": "400 closed",
    "bare cr in head": "400 closed",
    "bare cr after size": "400 closed",
    "nul in target": "400 closed",
    "nul in header value": "400 closed",
    "nul in header name": "400 closed",
    "ctl in header value": "400 closed",
    "del in header value": "400 closed",
    "nul in chunk data": "200 200 open",
    "nul in chunk size": "400 closed",
    "nul in trailer": "400 closed",
    "obs-text in value": "200 200 open",
    "space before colon cl": "400 closed",
    "space before colon te": "400 closed",
    "obs-fold te": "400 closed",
    "missing host": "400 closed",
    "two hosts": "400 closed",
    "version 2.0": "505 closed",
    "lowercase version": "400 closed",
    "double space in request line": "400 closed",
    "expect 100-continue": "200 200 open",
    "cl in trailer ignored": "200 200 open",
    "absolute-form target": "200 200 open",
    "connection close honoured": "200 closed",
}

# Rows where gunicorn answers differently: name -> (gunicorn's answer, why
# frostfork's answer in EXPECTED is the one we want).
DISAGREEMENTS: dict[str, tuple[str, str]] = {
    "cl duplicated same": ("400 closed",
        'RFC 9110 8.6 lets a recipient collapse identical repeated Content-Length values into '
        'one; gunicorn rejects them'),
    "cl list same": ("400 closed",
        'the same rule for a list-valued field ("5, 5", as proxies merge repeats); gunicorn '
        'rejects it'),
    "cl 20 digits": ("- open",
        'a value past 18 digits cannot be a real body here: frostfork refuses it at once (RFC '
        '9112 6.3 #5), gunicorn waits for the bytes'),
    "cl over max body": ("- open",
        'frostfork refuses a declared body over --max-body before reading it (413, RFC 9110 '
        '15.5.14); gunicorn has no body limit and waits'),
    "te gzip then chunked": ("200 closed",
        'RFC 9112 6.1: a coding the server does not implement gets 501; gunicorn hands the '
        'still-gzipped body to the app as 200'),
    "te two fields": ("200 closed",
        'same as above with the codings in two fields (combined as one list, RFC 9110 5.3); '
        'gunicorn answers 200'),
    "te unknown coding": ("501 closed",
        'RFC 9112 6.3 #4: a request whose final coding is not chunked cannot be framed: 400 '
        'and close; gunicorn says 501'),
    "te empty list element": ("501 closed",
        'RFC 9110 5.6.1: empty list elements MUST be ignored, so ", chunked" is chunked; '
        'gunicorn rejects it with 501'),
    "chunk size 17 digits": ("200 200 open",
        'frostfork bounds chunk-size to 16 hex digits (RFC 9112 7.1 asks recipients to '
        'prevent overflow); gunicorn accepts zero padding'),
    "chunk size overflow": ("- open",
        'a size past max-body is refused while its digits arrive (413); gunicorn parses an '
        'unbounded size and waits for the data'),
    "chunk size over max body": ("- open",
        'frostfork applies --max-body to chunked bodies as they are framed (413); gunicorn '
        'has no limit and waits'),
    "chunk ext huge": ("200 200 open",
        'RFC 9112 7.1.1: a server ought to limit chunk-extension length and answer 4xx; '
        'frostfork caps it, gunicorn reads any length'),
    "missing host": ("200 200 open",
        'RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host; gunicorn '
        'serves it'),
    "version 2.0": ("400 closed",
        'RFC 9110 15.6.6: an unsupported major version is 505; gunicorn says 400 (both refuse '
        'and close)'),
    "expect 100-continue": ("100 200 200 open",
        'RFC 9110 10.1.1: a server MAY omit 100 when the content has already arrived, as '
        'here; gunicorn sends it anyway'),
    "cl in trailer ignored": ("400 closed",
        'frostfork validates and discards the trailer section (RFC 9112 7.1.2), so a Content- '
        'Length there cannot frame anything; gunicorn rejects it'),
}


# ---------------------------------------------------------------------------
# probing
# ---------------------------------------------------------------------------

_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})")


def _statuses(data: bytes) -> list[str]:
    """Statuses of the responses in data, walking Content-Length framing."""
    out = []
    while data:
        m = _STATUS.match(data)
        if not m:
            out.append("?")  # garbage where a response should start
            break
        out.append(m.group(1).decode())
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        head = data[:end]
        cl = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
        status = int(m.group(1))
        size = int(cl.group(1)) if cl and status >= 200 else 0
        data = data[end + 4 + size:]
    return out


def probe(port: int, data: bytes, quiet: float = 1.0 * SLOW) -> str:
    """Sends data; reads until the server closes, or nothing came for `quiet` s."""
    with socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.settimeout(quiet)
        got, closed = b"", False
        deadline = time.monotonic() + 10 * SLOW
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not b:
                closed = True
                break
            got += b
    statuses = " ".join(_statuses(got)) or "-"
    return f"{statuses} {'closed' if closed else 'open'}"


def probe_all(port: int) -> dict[str, str]:
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = pool.map(lambda item: (item[0], probe(port, item[1])), ROWS.items())
        return dict(results)


# ---------------------------------------------------------------------------
# gunicorn
# ---------------------------------------------------------------------------

@pytest.fixture
def gunicorn():
    import gunicorn as _g  # noqa: F401  pinned in requirements-dev.txt: missing is an error

    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"gunicorn-{port}.log"
    env = dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'tests' / 'apps'}")
    # keep LD_PRELOAD: fault_app imports frostfork, whose sanitized build needs the runtime
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--worker-class", "gthread", "--threads", "8", "--keep-alive", "30",
             "--timeout", "60", "fault_app:wsgi"],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30 * SLOW
        while True:
            try:
                if probe(port, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").startswith("200"):
                    break
            except OSError:
                pass
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.unlink(missing_ok=True)


def _table(rows: dict[str, tuple[str, str]]) -> str:
    width = max((len(k) for k in rows), default=0)
    return "\n".join(f"  {k:<{width}}  frostfork {a:<14} gunicorn {b}" for k, (a, b) in
                     sorted(rows.items()))


def test_framing_differs_from_gunicorn_only_where_justified(serve, gunicorn):
    srv = serve("fault_app:wsgi", "--wsgi", "--workers", "1")
    ours = probe_all(srv.port)
    theirs = probe_all(gunicorn)

    wrong = {k: (ours[k], EXPECTED.get(k, "<no expectation>")) for k in ROWS
             if ours[k] != EXPECTED.get(k)}
    assert not wrong, "frostfork answered differently than expected:\n" + _table(wrong)

    differ = {k: (ours[k], theirs[k]) for k in ROWS if ours[k] != theirs[k]}
    new = {k: v for k, v in differ.items() if k not in DISAGREEMENTS}
    changed = {k: (ours[k], theirs[k]) for k in DISAGREEMENTS
               if k in differ and theirs[k] != DISAGREEMENTS[k][0]}
    gone = {k: (ours.get(k, "<no row>"), theirs.get(k, "<no row>")) for k in DISAGREEMENTS
            if k not in differ}
    msg = []
    if new:
        msg.append("new disagreements with gunicorn (justify them in DISAGREEMENTS):\n"
                   + _table(new))
    if changed:
        msg.append("gunicorn's answer changed on listed rows:\n" + _table(changed))
    if gone:
        msg.append("listed disagreements that disappeared:\n" + _table(gone))
    assert not msg, "\n".join(msg)


def test_tables_name_only_known_rows():
    assert set(EXPECTED) == set(ROWS)
    assert set(DISAGREEMENTS) <= set(ROWS)
    assert all(why.strip() for _, why in DISAGREEMENTS.values())
