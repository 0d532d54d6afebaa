"""sagacrew's status API and live web page (FastAPI + uvicorn).

``create_app(system, ...)`` serves one running :class:`~sagacrew.runtime.SagaSystem`:

- ``GET /api/sagas/{saga_id}/status``: progress, or why the saga failed and at which
  step ("compensated after step 4 of 6 (authorize_card refused: card declined)"), each
  step's attempts, times, last error, next retry and compensation, held locks and the
  timeline; never the saga's data or results, errors shortened without its values,
  ids or secrets (``_redact``);
- ``GET /api/sagas?state=&saga_name=&reason=&limit=&offset=``: a page of sagas, newest
  first, with durations, failure reasons and the count per state;
- ``GET /api/sagas/{saga_id}/flowchart.svg``: the saga type's flowchart;
- ``GET /`` and ``GET /sagas/{saga_id}``: the web page, the flowchart coloured live;
- ``GET /livez`` (liveness), ``GET /healthz`` = ``GET /readyz`` (readiness: the store
  answers; 503 with ``Retry-After`` when not) and ``GET /api/system``;
- operator endpoints (``Authorization: Bearer <token>``; disabled without a token):
  ``POST /api/sagas/{saga_name}``, ``GET /api/dead-letters``,
  ``POST /api/dead-letters/{id}/redrive``, ``POST /api/admin/pause|resume|drain``.

Request bodies over ``max_body_bytes`` (1 MiB) are refused with 413 before they are read,
operator routes check the token before the body, saga inputs are limited to
``max_input_bytes`` (64 KiB), ids are checked before any store call, and a store outage
answers 503 with ``Retry-After``.

``serve(system_dir, ...)`` runs a generated system and this API until SIGINT/SIGTERM.
``serve_loaded(loaded, store_url, ...)`` does the same for a system opened already (a
``LoadedSystem``): what a generated package's ``python -m <system> serve`` calls.
``import sagacrew.runtime`` never imports this package (nor FastAPI).
"""

from sagacrew.runtime.api._app import create_app
from sagacrew.runtime.api._auth import OPERATOR_TOKEN_ENV, OperatorGuard, operator_guard
from sagacrew.runtime.api._errors import ApiError, HttpError, ServeError
from sagacrew.runtime.api._events import SIGNATURE_HEADER, signature
from sagacrew.runtime.api._inputs import DEFAULT_MAX_INPUT_BYTES, ID_MAX_LENGTH
from sagacrew.runtime.api._limits import (
    DEFAULT_MAX_BODY_BYTES,
    MAX_BODY_BYTES_ENV,
    MAX_INPUT_BYTES_ENV,
)
from sagacrew.runtime.api._progress import StepOutline, step_statuses, summary_text
from sagacrew.runtime.api._serve import (
    ServeOptions,
    default_store_url,
    parse_event_secrets,
    serve,
    serve_loaded,
)

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_INPUT_BYTES",
    "ID_MAX_LENGTH",
    "MAX_BODY_BYTES_ENV",
    "MAX_INPUT_BYTES_ENV",
    "OPERATOR_TOKEN_ENV",
    "SIGNATURE_HEADER",
    "ApiError",
    "HttpError",
    "OperatorGuard",
    "ServeError",
    "ServeOptions",
    "StepOutline",
    "create_app",
    "default_store_url",
    "operator_guard",
    "parse_event_secrets",
    "serve",
    "serve_loaded",
    "signature",
    "step_statuses",
    "summary_text",
]
