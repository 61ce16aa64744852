"""frostfork.finalize: weakref.finalize semantics, kept in C."""

import gc
import os
import weakref

import pytest

import frostfork
from frostfork import TempFile, finalize


class Obj:
    pass


def test_runs_once_when_collected_and_never_keeps_the_object():
    log = []
    o = Obj()
    ref = weakref.ref(o)
    f = finalize(o, log.append, "gone")
    assert f.alive
    del o
    gc.collect()
    assert ref() is None and log == ["gone"] and not f.alive
    f()
    assert log == ["gone"]


def test_explicit_call_runs_once_and_returns_the_result():
    o = Obj()
    f = finalize(o, lambda a, b=0: a + b, 1, b=2)
    assert f() == 3 and f() is None and not f.alive


def test_detach_and_peek():
    log = []
    o = Obj()
    f = finalize(o, log.append, "x")
    assert f.peek()[0] is o
    obj, fn, args, kwargs = f.detach()
    assert obj is o and args == ("x",) and not f.alive and f.detach() is None
    del o
    gc.collect()
    assert log == []


def test_objects_without_weakrefs_are_refused():
    with pytest.raises(TypeError):
        finalize(1, print)


def test_tempfile_manager_shape(tmp_path):
    t = TempFile(dir=str(tmp_path))
    t.write(b"data")
    assert os.path.exists(t.path) and t.is_active
    t.remove()
    t.remove()
    assert not os.path.exists(t.path) and not t.is_active
    t2 = TempFile(dir=str(tmp_path))
    path = t2.path
    del t2
    gc.collect()
    assert not os.path.exists(path)
