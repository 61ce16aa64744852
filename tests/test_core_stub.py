"""src/frostfork/_core.pyi against the compiled module: every function, type,
method and attribute the extension has is in the stub and nothing more, with
matching parameters where the runtime shows them (mypy's stubtest)."""

from mypy import stubtest


def test_stub_matches_the_extension(capsys):
    code = stubtest.test_stubs(stubtest.parse_options(["frostfork._core"]))
    out = capsys.readouterr().out
    assert code == 0, out
