"""What the framework tests share: the file tests/apps/framework_app.py notes
lifespan and dependency events in, and starting that app (import the
fixtures into a test module: `from framework_support import events, framework`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import wait_until


class Events:
    """The lines framework_app appended to its events file: "<pid> <event>"."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[str]:
        return self.path.read_text().splitlines() if self.path.exists() else []

    def wait(self, text: str, timeout: float = 10) -> list[str]:
        return wait_until(lambda: [ln for ln in self.lines() if text in ln], timeout,
                          what=lambda: f"{text!r} in events: {self.lines()}")


@pytest.fixture
def events(tmp_path) -> Events:
    return Events(tmp_path / "events")


@pytest.fixture
def framework(serve, events):
    """framework(*cli_args) -> a running framework_app server."""
    def start(*args: str):
        return serve("framework_app:app", *args,
                     env={"FRAMEWORK_EVENTS": str(events.path)})
    return start
