"""Plain PEP 3333 app for the throughput benchmark (frostfork --wsgi, granian, gunicorn)."""
BODY = b'{"message":"Hello, World!"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
