# Created once by sagacrew from user_provisioning.yaml: this file is yours. `sagacrew generate` never overwrites it.
"""Business rules of user_provisioning: the part of the system sagacrew leaves to you.

Each class below subclasses a generated base and replaces it in the running system
(see app.py). Add rules by overriding, for an aggregate, ``broken_invariants`` (call
``super()`` to keep the spec's), and for a gateway, ``perform`` to call the real system
instead of the sandbox ledger. A class you delete falls back to the generated base;
a base added by a later spec change runs as generated until you subclass it here.

When the external system says no (e.g. card declined), raise
``sagacrew.runtime.GatewayRefusal(reason)`` from ``perform``: the saga step fails without
retrying, the saga compensates its done steps, and the gateway actor is not restarted.
"""

from __future__ import annotations

from .actors import (
    AccountActorBase,
    MembershipActorBase,
)
from .gateways import (
    MailerGatewayBase,
    VaultServiceGatewayBase,
)


class AccountActor(AccountActorBase):
    """accounts.account: the spec's rules, plus any you add here."""


class MembershipActor(MembershipActorBase):
    """community.membership: the spec's rules, plus any you add here."""


class VaultServiceGateway(VaultServiceGatewayBase):
    """vault_service: the sandbox until you override ``perform`` with the real client."""


class MailerGateway(MailerGatewayBase):
    """mailer: the sandbox until you override ``perform`` with the real client."""
