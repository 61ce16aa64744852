"""DataSink is structural: checked once, in C, with the missing member named."""

import subprocess
import sys
import textwrap

import pytest

import frostfork
from conftest import ROOT


class Good:  # inherits nothing, imports nothing
    def write(self, data: bytes) -> int:
        return len(data)


class NoWrite:
    def send(self, data: bytes) -> int:
        return 0


class WrongArity:
    def write(self) -> int:
        return 0


class BadClose:
    def write(self, data: bytes) -> int:
        return 0

    close = 3


def test_structural_check_accepts_any_shaped_object():
    good = Good()
    assert frostfork.sinks.check(good) is good
    app = frostfork.App(access_log=good, audit=Good())
    assert app.access_log is good and isinstance(app.audit, Good)


@pytest.mark.parametrize("sink,msg", [
    (NoWrite(), "NoWrite is not a DataSink: it has no write(data: bytes) -> int method"),
    (WrongArity(), "WrongArity.write must take one argument (data: bytes), it takes 0"),
    (BadClose(), "BadClose.close must be a method taking no arguments"),
    (object(), "object is not a DataSink"),
])
def test_structural_check_names_the_problem(sink, msg):
    with pytest.raises(TypeError) as e:
        frostfork.App(access_log=sink)
    assert msg in str(e.value) and str(e.value).startswith("access_log: ")


def test_builtin_sinks_satisfy_the_protocol(tmp_path):
    for sink in (frostfork.sinks.stdout(), frostfork.sinks.stderr(),
                 frostfork.sinks.file(str(tmp_path / "a.log")),
                 frostfork.sinks.sqlite(str(tmp_path / "a.db"))):
        assert isinstance(sink, frostfork.DataSink)
        assert frostfork.sinks.check(sink) is sink
    f = frostfork.sinks.file(str(tmp_path / "b.log"))
    assert f.write(b"one\n") == 4
    (tmp_path / "b.log").rename(tmp_path / "b.log.1")
    f.reopen()
    assert f.write(b"two\n") == 4
    assert (tmp_path / "b.log").read_bytes() == b"two\n"
    db = frostfork.sinks.sqlite(str(tmp_path / "c.db"), table="trail")
    db.write(b'{"a":1}\n{"b":2}\n')
    import sqlite3
    rows = sqlite3.connect(tmp_path / "c.db").execute("SELECT record FROM trail ORDER BY id").fetchall()
    assert rows == [('{"a":1}',), ('{"b":2}',)]


def test_sqlite_sink_takes_a_table_name_of_any_length(tmp_path):
    table = "t" * 300  # the SQL once went through a 256-byte buffer and came out cut
    db = frostfork.sinks.sqlite(str(tmp_path / "long.db"), table=table)
    db.write(b'{"a":1}\n')
    import sqlite3
    rows = sqlite3.connect(tmp_path / "long.db").execute(f'SELECT record FROM "{table}"').fetchall()
    assert rows == [('{"a":1}',)]


def test_mypy_checks_the_protocol(tmp_path):
    good = tmp_path / "good.py"
    good.write_text(textwrap.dedent("""
        from frostfork import DataSink
        class S3Bucket:
            def write(self, data: bytes) -> int:
                return len(data)
        def process_stream(sink: DataSink, stream: bytes) -> None:
            sink.write(stream)
        process_stream(S3Bucket(), b"payload")
    """))
    bad = tmp_path / "bad.py"
    bad.write_text(textwrap.dedent("""
        from frostfork import DataSink
        class NotASink:
            def write(self, data: str) -> int:
                return len(data)
        def process_stream(sink: DataSink, stream: bytes) -> None:
            sink.write(stream)
        process_stream(NotASink(), b"payload")
    """))
    def mypy(path):
        return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental",
                               "--cache-dir", str(tmp_path / "cache"), str(path)],
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
    ok = mypy(good)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    flagged = mypy(bad)
    assert flagged.returncode == 1 and "NotASink" in flagged.stdout and "DataSink" in flagged.stdout
