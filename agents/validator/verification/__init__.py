"""The Consistency Validator at work: it runs a generated system and gives the verdict.

``verify`` runs the generated tests, the seeded workload, the crash-and-restart run, the
contention run and every planned fault scenario, then computes the one verdict
(:func:`sagacrew.agents.validator.compute_verdict`). ``consistency_validate`` and
``figures_measure`` give the operations (rollback, triggers) the same verdict on a store.
"""

from sagacrew.agents.validator.verification.ops_checks import (
    consistency_validate,
    figures_measure,
    profile_minimum,
)
from sagacrew.agents.validator.verification.verify import Verification, verify

__all__ = [
    "Verification",
    "consistency_validate",
    "figures_measure",
    "profile_minimum",
    "verify",
]
