"""An actor that records its lifecycle, for the actor tests."""

from __future__ import annotations

from sagacrew.runtime.actors import Actor


class Recorder(Actor):
    """Appends ``<name>.pre_start`` and ``<name>.post_stop`` to ``events`` as those hooks
    run. ``pre_restart`` is the default (it calls ``post_stop``) unless a subclass records
    it too."""

    def __init__(self, name: str, events: list[str]) -> None:
        self.name = name
        self.events = events

    async def pre_start(self) -> None:
        self.events.append(f"{self.name}.pre_start")

    async def post_stop(self) -> None:
        self.events.append(f"{self.name}.post_stop")
