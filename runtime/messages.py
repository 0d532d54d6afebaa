"""Envelopes: every command and event travels with its correlation and causation ids.

``correlation_id`` names the whole flow (one saga execution, one user request);
``causation_id`` names the message that directly caused this one. A message that
starts a flow is its own cause.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sagacrew.runtime._frozen import fast_init


def new_id() -> str:
    """A fresh random id (``uuid4().hex``, made without building a UUID object)."""
    digest = bytearray(os.urandom(16))
    digest[6] = (digest[6] & 0x0F) | 0x40  # version 4
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return digest.hex()


def new_ordered_id() -> str:
    """A fresh id that sorts by the time it was made: a UUIDv7 (RFC 9562) as 32 hex
    digits, the Unix time in milliseconds, then 74 random bits. Rows keyed by ids made
    together (the step-log rows of the sagas in flight) sit side by side in an index, so
    a commit writes a few index pages instead of one per saga. It shows when it was made."""
    digest = bytearray((time.time_ns() // 1_000_000).to_bytes(6, "big") + os.urandom(10))
    digest[6] = (digest[6] & 0x0F) | 0x70  # version 7
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return digest.hex()


@fast_init
@dataclass(frozen=True, slots=True)
class Envelope:
    """A command or event with the ids that trace it.

    ``idempotency_key`` is set on commands sent by a saga step; a handler that sees a
    key it has already processed returns its stored result instead of acting again.
    """

    name: str
    payload: Mapping[str, Any]
    correlation_id: str
    causation_id: str
    message_id: str = field(default_factory=new_id)
    idempotency_key: str | None = None

    @classmethod
    def origin(cls, name: str, payload: Mapping[str, Any]) -> Envelope:
        """A message that starts a flow: it correlates and causes itself."""
        message_id = new_id()
        return cls(name, payload, message_id, message_id, message_id)

    def caused(
        self, name: str, payload: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Envelope:
        """A message caused by this one: same correlation, causation is this message."""
        return Envelope(
            name,
            payload,
            self.correlation_id,
            self.message_id,
            idempotency_key=idempotency_key,
        )
