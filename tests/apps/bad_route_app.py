"""An app with a handler parameter nothing can fill."""
import frostfork

app = frostfork.App()


def handler(missing: complex):
    return {}


# registered late so the error surfaces at startup rather than import
app._routes.append(("GET", "/x", handler))
