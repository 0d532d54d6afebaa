"""Fault injection in command delivery: duplicates and lost replies (see ``SagaSystem``).

Each decision is a hash of the envelope's keys, so a rerun meets the same faults.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sagacrew.runtime.messages import Envelope


@dataclass(frozen=True)
class DeliveryFaults:
    """How :meth:`SagaSystem.dispatch <sagacrew.runtime.system.SagaSystem.dispatch>` delivers
    commands wrongly on purpose.

    - ``duplicate_rate`` (0.0: never): the share of commands delivered twice, decided by
      their idempotency key.
    - ``lost_reply_rate`` (0.0: never): the share of deliveries whose reply never arrives
      although the actor acted, decided by the idempotency and causation ids.
    """

    duplicate_rate: float = 0.0
    lost_reply_rate: float = 0.0

    def duplicates(self, envelope: Envelope) -> bool:
        """True when ``envelope`` is to be delivered twice."""
        return bool(self.duplicate_rate) and _chance(
            envelope.idempotency_key or "", self.duplicate_rate
        )

    def loses_reply(self, envelope: Envelope) -> bool:
        """True when the reply to ``envelope`` is to be lost."""
        return bool(self.lost_reply_rate) and _chance(
            f"lost:{envelope.idempotency_key}:{envelope.causation_id}", self.lost_reply_rate
        )


def _chance(key: str, rate: float) -> bool:
    """A deterministic coin from ``key``: the same key always gives the same answer."""
    digest = int(hashlib.sha256(("dup:" + key).encode()).hexdigest()[:8], 16)
    return digest / 0xFFFFFFFF < rate
