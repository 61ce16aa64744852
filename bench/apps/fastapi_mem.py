"""bench/apps/fastapi_bench.py's app whose import builds 600,000 small objects (a table
loaded at startup), for the memory bar of bench/asgi_bars.py."""
from bench.apps.fastapi_bench import app  # noqa: F401

TABLE = [(i, -i) for i in range(600_000)]  # 600,000 tuples of two ints
