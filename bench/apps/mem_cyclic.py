"""Memory-benchmark app: mem_live's live data plus import-time cyclic garbage.

The same ~600,000 live dicts as mem_live, and interleaved with them 300,000
objects in reference cycles (150,000 dict <-> list pairs, e.g. a parse tree with
parent links) that are dropped when the import ends. Only a collection reclaims
them. Built at import (top level); served as `app` (frostfork) and `wsgi`.
"""
from bench.apps import memgc

ROWS = 600_000

TABLE = []
_scratch = []
for i in range(ROWS):
    TABLE.append({"id": i, "name": f"n{i}", "tags": [i % 7]})
    if i % 4 == 0:
        for j in (i, i + 1):
            node = {"pos": j, "children": None}
            kids = [node]
            node["children"] = kids          # dict <-> list: a cycle
            _scratch.append(node)
del _scratch, node, kids, i, j                # 300,000 objects become cyclic garbage

app, wsgi = memgc.make()
