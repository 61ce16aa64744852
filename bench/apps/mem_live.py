"""Memory-benchmark app: ~600,000 small dicts kept alive, built at import (top level).

A realistic in-memory lookup table. Served as `app` (frostfork native) and `wsgi`
(gunicorn, granian); GET /gc runs full collections and answers the worker pid.
"""
from bench.apps import memgc

ROWS = 600_000

TABLE = []
for i in range(ROWS):
    TABLE.append({"id": i, "name": f"n{i}", "tags": [i % 7]})
del i

app, wsgi = memgc.make(TABLE)
