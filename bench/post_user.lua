-- wrk script: the typed POST of bench/apps/native_app.py (a valid NewUser).
wrk.method = "POST"
wrk.body = '{"name": "alice_1", "password": "correct horse battery", "age": 30}'
wrk.headers["Content-Type"] = "application/json"
