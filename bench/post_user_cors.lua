-- wrk script: bench/post_user.lua's typed POST from a browser origin the app allows
-- (so CORS has work to do on every request).
wrk.method = "POST"
wrk.body = '{"name": "alice_1", "password": "correct horse battery", "age": 30}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = "https://app.example"
