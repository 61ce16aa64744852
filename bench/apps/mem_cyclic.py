"""Memory-benchmark app: mem_live's live data plus import-time cyclic garbage.

At import (top level) it first builds a scratch structure of 300,000 objects in
reference cycles (150,000 dict <-> list pairs: a parse tree with parent links, say),
then the same ~600,000 live dicts as mem_live, then drops the scratch structure.
Only a collection reclaims it: gc.collect() before fork returns its arenas to the
OS; without one (or with the collector disabled and the heap frozen) it stays.
Served as `app` (frostfork native) and `wsgi` (gunicorn, granian).
"""
from bench.apps import memgc

ROWS = 600_000
GARBAGE_PAIRS = 150_000

_scratch = []
for j in range(GARBAGE_PAIRS):
    node = {"pos": j, "children": None}
    kids = [node]
    node["children"] = kids                  # dict <-> list: a cycle
    _scratch.append(node)

TABLE = []
for i in range(ROWS):
    TABLE.append({"id": i, "name": f"n{i}", "tags": [i % 7]})

del _scratch, node, kids, i, j               # 300,000 objects become cyclic garbage

app, wsgi = memgc.make(TABLE)
