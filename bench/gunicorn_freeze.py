"""gunicorn config for bench/run-memory: gc.collect() + gc.freeze() once in the master.

With --preload the app is imported in Arbiter.setup(); Arbiter.start() then calls
when_ready() before Arbiter.run() forks the first worker (manage_workers ->
spawn_worker -> pre_fork -> os.fork), so this runs once, after the import and before
any fork. (pre_fork would run before every fork, respawns included.)
"""
import gc


def when_ready(server):
    gc.collect()
    gc.freeze()
    server.log.warning("gc.freeze(): %d objects frozen before the first fork", gc.get_freeze_count())
