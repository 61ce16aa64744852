"""Worker start/stop hooks and worker-scoped values run in each worker after
fork; shutdown hooks in the master after the workers stopped."""

from __future__ import annotations

from conftest import wait_until
from framework_support import events, framework  # noqa: F401 (fixtures)


def test_worker_hooks_and_worker_scope_per_worker_then_shutdown_in_master(framework, events):
    srv = framework("--workers", "2")
    workers = srv.wait_workers(2)
    want = {str(p) for p in workers}

    def started() -> bool:  # each worker runs its hooks after its own fork
        return {ln.split()[0] for ln in events.lines() if ln.endswith("worker start")} == want

    wait_until(started, what=lambda: f"both workers' start hooks: {events.lines()}")
    starts = {ln.split()[0] for ln in events.lines() if ln.endswith("worker start")}
    opens = {ln.split()[0] for ln in events.lines() if ln.endswith("pool open")}
    assert starts == opens == want
    r = srv.get("/pool").json()
    assert r["pid"] == r["me"] and r["me"] in workers  # made in the worker that serves
    master = srv.proc.pid
    assert srv.stop() == 0
    lines = events.lines()
    for pid in workers:
        mine = [ln.split(" ", 1)[1] for ln in lines if ln.startswith(f"{pid} ")]
        assert mine == ["pool open", "worker start", "worker stop", "pool close"], lines
    assert lines[-1] == f"{master} shutdown"  # after every worker's stop
    assert lines.count(f"{master} shutdown") == 1


log: list[str] = []


class Conn:
    def close(self):
        log.append("conn close")


class Pool:
    pass


def pool(conn: Conn):
    log.append("pool open")
    yield Pool()
    log.append("pool teardown")


def test_worker_scope_in_process_generator_and_errors():
    """App.run_worker_start / run_worker_stop, as a worker runs them."""
    import pytest

    import frostfork

    log.clear()
    app = frostfork.App()
    app.provide(Conn, scope="worker")
    app.provide(Pool, pool, scope="worker")
    app.on_worker_stop(lambda: log.append("hook"))
    app.run_worker_start()
    assert isinstance(app._worker_value(Pool), Pool)
    app.run_worker_stop()
    assert log == ["pool open", "hook", "pool teardown", "conn close"]
    with pytest.raises(RuntimeError, match="outside a worker"):
        app._worker_value(Pool)
    with pytest.raises(ValueError, match="generator factory needs scope"):
        app.provide(Pool, pool, scope="app")


def test_a_failing_worker_start_hook_is_reported_and_backed_off(serve, tmp_path):
    (tmp_path / "badstart_app.py").write_text(
        "import frostfork\n"
        "app = frostfork.App()\n"
        "@app.on_worker_start\n"
        "def connect():\n"
        "    raise RuntimeError('database unreachable')\n"
        "@app.get('/')\n"
        "def index():\n"
        "    return {}\n")
    srv = serve("badstart_app:app", env={"PYTHONPATH": str(tmp_path)}, wait=False)
    srv.wait_output("RuntimeError: database unreachable")
    srv.wait_output("workers keep crashing; next spawn in")
