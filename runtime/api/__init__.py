"""sagacrew's status API and live web page (FastAPI + uvicorn).

``create_app(system, ...)`` serves one running :class:`~sagacrew.runtime.SagaSystem`:

- ``GET /api/sagas/{saga_id}/status``: customer-facing progress ("2 of 5 steps complete")
  and each step's status; never the saga's data, results or errors;
- ``GET /api/sagas?state=&saga_name=&limit=``: sagas, newest first;
- ``GET /api/sagas/{saga_id}/flowchart.svg``: the saga type's flowchart;
- ``GET /`` and ``GET /sagas/{saga_id}``: the web page, the flowchart coloured live;
- ``GET /healthz`` and ``GET /api/system``;
- operator endpoints (``Authorization: Bearer <token>``; disabled without a token):
  ``POST /api/sagas/{saga_name}``, ``GET /api/dead-letters``,
  ``POST /api/dead-letters/{id}/redrive``, ``POST /api/admin/pause|resume|drain``.

``serve(system_dir, ...)`` runs a generated system and this API until SIGINT/SIGTERM.
``import sagacrew.runtime`` never imports this package (nor FastAPI).
"""

from sagacrew.runtime.api._app import create_app
from sagacrew.runtime.api._auth import OPERATOR_TOKEN_ENV, operator_guard
from sagacrew.runtime.api._errors import ApiError, HttpError, ServeError
from sagacrew.runtime.api._progress import StepOutline, step_statuses, summary_text
from sagacrew.runtime.api._serve import default_store_url, serve

__all__ = [
    "OPERATOR_TOKEN_ENV",
    "ApiError",
    "HttpError",
    "ServeError",
    "StepOutline",
    "create_app",
    "default_store_url",
    "operator_guard",
    "serve",
    "step_statuses",
    "summary_text",
]
