"""The domain spec: load a YAML spec, validate it, and report every problem at once.

``load_spec(path)`` returns a :class:`DomainSpec` or raises :class:`SpecErrors`, whose
errors each read ``file:line:col: what is wrong; what to write instead``.
``compile_expression`` compiles the spec's small expression language to Python source.
``spec_json_schema()`` is the JSON Schema editors can use to autocomplete specs.
"""

from sagacrew.agents.spec.errors import ExpressionError, SpecError, SpecErrors, SpecException
from sagacrew.agents.spec.expressions import compile_expression
from sagacrew.agents.spec.loader import MAX_SPEC_BYTES, load_spec, parse_spec
from sagacrew.agents.spec.model import (
    Aggregate,
    BoundedContext,
    Command,
    CommandKind,
    DomainSpec,
    ExternalSystem,
    FieldType,
    Identifier,
    Invariant,
    Operation,
    Reliability,
    RetryPolicy,
    Saga,
    SagaStep,
    Thresholds,
    Workload,
)
from sagacrew.agents.spec.rules import check_rules
from sagacrew.agents.spec.schema import SPEC_SCHEMA_ID, spec_json_schema
from sagacrew.agents.spec.violation import Violation

__all__ = [
    "MAX_SPEC_BYTES",
    "SPEC_SCHEMA_ID",
    "Aggregate",
    "BoundedContext",
    "Command",
    "CommandKind",
    "DomainSpec",
    "ExpressionError",
    "ExternalSystem",
    "FieldType",
    "Identifier",
    "Invariant",
    "Operation",
    "Reliability",
    "RetryPolicy",
    "Saga",
    "SagaStep",
    "SpecError",
    "SpecErrors",
    "SpecException",
    "Thresholds",
    "Violation",
    "Workload",
    "check_rules",
    "compile_expression",
    "load_spec",
    "parse_spec",
    "spec_json_schema",
]
