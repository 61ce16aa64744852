"""No silent limits: what once stopped at a fixed-size C array now reaches the
handler whole, and what is still limited answers with a status and a detail
naming the limit (docs/configuration.md, "Limits")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from conftest import ROOT, SLOW, Server, parse_responses, raw

ITEMS_HEADERS = 250  # repeated header fields, past the 128 kept on the stack


@pytest.fixture(scope="module")
def srv():
    s = Server("limits_app:app", "--workers", "1", "--max-headers", "400",
               "--max-request-line", "32768", "--max-header-bytes", "65536")
    yield s
    s.stop()
    s.check_clean()


def get(srv, path, **kw):
    return httpx.get(f"http://127.0.0.1:{srv.port}{path}", timeout=10 * SLOW, **kw)


# --- unions ---------------------------------------------------------------

@pytest.mark.parametrize("i", [0, 15, 16, 19])
def test_every_option_of_a_20_option_union_is_tried(srv, i):
    r = httpx.post(f"http://127.0.0.1:{srv.port}/union", json={f"f{i}": i * 10}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() == {"option": f"Option{i}", "fields": {f"f{i}": i * 10}}


def test_a_value_no_option_fits_is_a_422(srv):
    r = httpx.post(f"http://127.0.0.1:{srv.port}/union", json={"f20": 1}, timeout=10)
    assert r.status_code == 422
    assert [e["type"] for e in r.json()["detail"]] == ["union_type"]


# --- request-scoped dependencies -------------------------------------------

def test_20_request_scoped_dependencies_are_each_made_once_per_request(srv):
    first = get(srv, "/deps")
    assert first.status_code == 200, first.text
    before = first.json()["made"]
    assert first.json()["shared"] is True  # the nested dependency got the same objects
    for n in range(1, 4):
        r = get(srv, "/deps")
        assert r.status_code == 200
        # the handler and the dependency `Seen` both ask for all 20: one construction each
        assert r.json() == {"made": [m + n for m in before], "shared": True}


# --- a handler with more parameters than fit on the stack ------------------

def test_a_handler_with_40_parameters_gets_every_one(srv):
    query = "&".join(f"p{i}={i + 1}" for i in range(40))
    r = get(srv, f"/many?{query}")
    assert r.status_code == 200, r.text
    assert r.json() == {"n": 40, "sum": sum(range(1, 41))}


# --- query strings -----------------------------------------------------------

@pytest.mark.parametrize("pairs", [127, 128, 129, 200, 3000])
def test_every_query_pair_reaches_the_handler(srv, pairs):
    query = "&".join([f"k={i}" for i in range(pairs - 1)] + ["last=end"])
    r = get(srv, f"/query?{query}")
    assert r.status_code == 200, r.text
    assert r.json() == {"k": [str(i) for i in range(pairs - 1)], "last": "end"}


def test_a_query_past_the_request_line_limit_is_a_414_naming_it(srv):
    query = "&".join(f"k={i}" for i in range(6000))  # > 32768 bytes
    data = raw(srv.port, f"GET /query?{query} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    [(status, headers, body)] = parse_responses(data)
    assert status == 414
    assert headers["connection"] == "close"
    assert json.loads(body) == {"detail": "request line longer than 32768 bytes "
                                          "(--max-request-line)"}


# --- headers -------------------------------------------------------------

def test_every_repeated_header_reaches_a_list_parameter(srv):
    head = "".join(f"X-Item: v{i}\r\n" for i in range(ITEMS_HEADERS))
    data = raw(srv.port, f"GET /items HTTP/1.1\r\nHost: t\r\n{head}Connection: close\r\n\r\n"
               .encode())
    [(status, _, body)] = parse_responses(data)
    assert status == 200, body
    assert json.loads(body) == {"n": ITEMS_HEADERS, "first": ["v0"],
                                "last": [f"v{ITEMS_HEADERS - 1}"]}


def test_too_many_header_fields_is_a_431_naming_the_limit(srv):
    head = "".join(f"X-Item: v{i}\r\n" for i in range(401))
    data = raw(srv.port, f"GET /items HTTP/1.1\r\nHost: t\r\n{head}\r\n".encode())
    [(status, _, body)] = parse_responses(data)
    assert status == 431
    assert json.loads(body) == {"detail": "more than 400 header fields (--max-headers)"}


def test_a_head_past_its_byte_limit_is_a_431_naming_the_limit(srv):
    data = raw(srv.port, b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
    [(status, _, body)] = parse_responses(data)
    assert status == 431
    assert json.loads(body) == {"detail": "header section larger than 65536 bytes "
                                          "(--max-header-bytes)"}


def test_a_body_past_its_limit_is_a_413_naming_the_limit(srv):
    data = raw(srv.port, b"POST /union HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n")
    [(status, _, body)] = parse_responses(data)
    assert status == 413
    assert json.loads(body) == {"detail": "body larger than 16777216 bytes (--max-body)"}


def test_a_long_header_name_reaches_the_request_whole(srv):
    name = "x-" + "n" * 400
    r = get(srv, "/headers", headers={name: "1"})
    assert r.status_code == 200
    assert name in r.json()["names"]


def test_a_long_header_name_reaches_a_wsgi_environ_whole(serve):
    s = serve("limits_app:wsgi_headers", "--wsgi")
    name = "X-" + "N" * 400
    r = httpx.get(f"http://127.0.0.1:{s.port}/", headers={name: "1"}, timeout=10 * SLOW)
    assert r.status_code == 200
    assert "HTTP_" + name.upper().replace("-", "_") in r.text.split("\n")


# --- JSON bodies -----------------------------------------------------------

def test_json_nesting_is_limited_at_64_levels(srv):
    def post(levels):  # the body object is one level, the lists in "extra" the rest
        extra = "[" * (levels - 1) + "]" * (levels - 1)
        return httpx.post(f"http://127.0.0.1:{srv.port}/number", timeout=10,
                          content=f'{{"n": 1, "extra": {extra}}}',
                          headers={"Content-Type": "application/json"})
    assert post(64).status_code == 200
    r = post(65)
    assert r.status_code == 400
    assert r.json()["detail"].endswith("nesting too deep (more than 64 levels)")


def test_json_nested_past_the_depth_limit_is_a_400_naming_it(srv):
    body = b'{"f0": ' + b"[" * 100 + b"]" * 100 + b"}"
    r = httpx.post(f"http://127.0.0.1:{srv.port}/union", content=body, timeout=10,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "nesting too deep (more than 64 levels)" in r.json()["detail"]


# --- integers past CPython's digit limit (sys.get_int_max_str_digits) -------

BIG = "7" * 5000  # more digits than the default 4300


def test_an_int_field_with_too_many_digits_is_a_422(srv):
    r = httpx.post(f"http://127.0.0.1:{srv.port}/number", content=f'{{"n": {BIG}}}',
                   headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == [{"type": "int_parsing_size", "loc": ["body", "n"],
                                   "msg": "Unable to parse input string as an integer, "
                                          "exceeded maximum size"}]


def test_an_int_query_value_with_too_many_digits_is_a_422(srv):
    r = get(srv, f"/count?n={BIG}")
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert (error["type"], error["loc"]) == ("int_parsing_size", ["query", "n"])


def test_an_untyped_int_with_too_many_digits_is_a_400_naming_the_limit(srv):
    r = httpx.post(f"http://127.0.0.1:{srv.port}/number", content=f'{{"n": 1, "extra": {BIG}}}',
                   headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["detail"].endswith(
        "integer with more digits than sys.get_int_max_str_digits() allows")


def test_4300_digits_are_still_an_int(srv):
    r = httpx.post(f"http://127.0.0.1:{srv.port}/number", content=f'{{"n": {"1" * 4300}}}',
                   headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() == {"n": 111, "extra": None}


# --- results and fixed codec limits ---------------------------------------

def test_a_result_nested_past_the_encode_limit_is_a_500(srv):
    assert get(srv, "/nested/128").json() == json.loads("[" * 128 + "0" + "]" * 128)
    r = get(srv, "/nested/129")
    assert r.status_code == 500
    assert "JSON nesting deeper than 128 levels" in srv.output()


@pytest.mark.parametrize("name,data,detail", [
    ("chunk extension", b"POST /union HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"1;e=" + b"x" * 1100 + b"\r\na\r\n0\r\n\r\n", "invalid or oversized chunk extension"),
    ("chunk size digits", b"POST /union HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"00000000000000001\r\na\r\n0\r\n\r\n", "invalid chunk size"),
    ("trailer section", b"POST /union HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"1\r\na\r\n0\r\nX-T: " + b"t" * 70000 + b"\r\n\r\n", "invalid or oversized trailer section"),
    ("empty lines", b"\r\n" * 5 + b"GET /count HTTP/1.1\r\nHost: t\r\n\r\n", "malformed request line"),
])
def test_fixed_codec_limits_answer_400_with_the_documented_detail(srv, name, data, detail):
    [(status, headers, body)] = parse_responses(raw(srv.port, data))
    assert status == 400, name
    assert headers["connection"] == "close"
    assert json.loads(body) == {"detail": detail}


def test_codec_limits_are_inclusive(srv):
    ok = (b"\r\n" * 4 + b"POST /number HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
          b"Connection: close\r\n\r\n" + b"0000000000000008;e=" + b"x" * 1000 +
          b"\r\n{\"n\": 5}\r\n0\r\n\r\n")
    [(status, _, body)] = parse_responses(raw(srv.port, ok))
    assert status == 200, body


def test_an_x_request_id_is_adopted_up_to_its_limit(srv):
    rid = "r" * 71
    r = get(srv, "/boom", headers={"X-Request-Id": rid})
    assert r.status_code == 500 and r.headers["x-request-id"] == rid
    r = get(srv, "/boom", headers={"X-Request-Id": rid + "r"})
    assert r.status_code == 500 and r.headers["x-request-id"] not in (rid, rid + "r")
    assert r.json()["request_id"] == r.headers["x-request-id"]


# --- startup limits --------------------------------------------------------

def serve_fails(*args: str, path: str = "") -> str:
    out = subprocess.run([sys.executable, "-m", "frostfork", "serve", *args,
                          "--bind", "127.0.0.1:0"], capture_output=True, text=True,
                         timeout=60 * SLOW, cwd=ROOT,
                         env=dict(os.environ,
                                  PYTHONPATH=f"{ROOT}:{ROOT / 'tests' / 'apps'}:{path}"))
    assert out.returncode == 2, out.stderr
    return out.stderr


def test_a_route_with_more_than_16_parameters_is_refused_at_startup(tmp_path):
    pattern = "/" + "/".join(f"{{p{i}}}" for i in range(17))
    params = ", ".join(f"p{i}: str" for i in range(17))
    (tmp_path / "many_params_app.py").write_text(
        "import frostfork\napp = frostfork.App()\n"
        f"@app.get({pattern!r})\ndef h({params}) -> dict:\n    return {{}}\n")
    err = serve_fails("many_params_app:app", path=str(tmp_path))
    assert f"route {pattern} has more than 16 parameters" in err


def test_more_workers_than_the_limit_is_refused_at_startup():
    err = serve_fails("limits_app:app", "--workers", "129")
    assert "workers must be between 1 and 128" in err


def test_a_spool_dir_too_long_is_refused_at_startup(tmp_path):
    long_dir = tmp_path / ("d" * 200)
    err = serve_fails("limits_app:app", "--spool-dir", str(long_dir))
    assert f"--spool-dir is {len(str(long_dir))} bytes long; at most 160 are supported" in err
