"""The records of the JSON-over-HTTP benchmark (bench/run-json-http), as plain data.

One definition of the payloads every framework's app serves: ORDER is the ~1 KB body
of the typed POST (an order with eleven lines, a nested address and tags), USERS the 20
records the list GET returns. Each app turns them into its own model classes once at
import; nothing here runs per request.
"""
import json

USERS = [
    {"id": 100000 + 7 * i, "name": f"User {i}", "email": f"user{i}@example.com",
     "score": round(12.5 + i * 3.141, 3), "active": i % 3 != 0,
     "address": {"street": f"{i + 1} Main Street", "city": "Amsterdam", "zip": f"{1000 + i:05d}"},
     "tags": ["alpha", "bravo", "charlie"][: i % 4]}
    for i in range(20)
]

ORDER = {
    "id": 4242, "customer": "alice_1", "email": "alice@example.com", "note": "leave at the door",
    "paid": True,
    "ship_to": {"street": "12 Canal Street", "city": "Amsterdam", "zip": "01012"},
    "tags": ["gift", "express"],
    "lines": [{"sku": f"SKU-{1000 + i}", "name": f"Item number {i}", "qty": i + 1,
               "price": round(3.25 + i * 1.5, 2)} for i in range(11)],
}
ORDER_BODY = json.dumps(ORDER).encode()
