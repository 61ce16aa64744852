"""The typed surface users import (py.typed): the package passes mypy
--strict, and src/frostfork/_core.pyi matches the compiled module: every
function, type, method and attribute the extension has is in the stub and
nothing more, with matching parameters where the runtime shows them (mypy's
stubtest)."""

from mypy import api, stubtest


def test_package_passes_mypy_strict():
    # the installed copy (PEP 561, with its stub), found the way a user's mypy finds it
    out, err, code = api.run(["--strict", "--cache-dir", "/dev/null", "-p", "frostfork"])
    assert code == 0, out + err
    assert "no issues found in" in out and "source files" in out, out


def test_stub_matches_the_extension(capsys):
    code = stubtest.test_stubs(stubtest.parse_options(["frostfork._core"]))
    out = capsys.readouterr().out
    assert code == 0, out
