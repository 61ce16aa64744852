"""A WSGI app for granian; the static files are served by granian's own
--static-path-mount (bench/run-bodies)."""


def app(environ, start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]
