"""Where the LLM layer sends its requests: an OpenAI-compatible endpoint, a model, a key.

``llm_settings`` takes the CLI flags (``None`` when not given) and falls back to the
environment. Nothing here imports crewAI or contacts the endpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sagacrew.crew.llm.errors import LlmConfigError

BASE_URL_ENV = ("SAGACREW_LLM_BASE_URL", "OPENAI_BASE_URL")
"""Environment variables read for the endpoint, first one set wins."""
MODEL_ENV = "SAGACREW_LLM_MODEL"
API_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_MODEL = "gpt-4o-mini"
"""Model used when neither ``--llm-model`` nor ``SAGACREW_LLM_MODEL`` is given."""

_MISSING_FIX = (
    "set OPENAI_API_KEY and OPENAI_BASE_URL (or --llm-base-url); "
    "SAGACREW_LLM_MODEL (or --llm-model) picks the model"
)


@dataclass(frozen=True)
class LlmSettings:
    """An OpenAI-compatible chat-completions endpoint and how to call it.

    ``base_url`` is the API root, e.g. ``https://api.openai.com/v1`` or
    ``http://localhost:11434/v1``; ``model`` is the model name the endpoint serves (an
    ``openai/`` prefix is accepted and dropped). ``timeout_s`` (default 120) bounds each
    HTTP request; ``max_retries`` (default 1) is how often a failed request or task is
    retried before every proposal is rejected. The key never appears in ``repr``.
    """

    base_url: str
    model: str
    api_key: str = field(repr=False)
    timeout_s: float = 120.0
    max_retries: int = 1


def _first_env(names: tuple[str, ...]) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def llm_settings(base_url: str | None, model: str | None, api_key: str | None) -> LlmSettings:
    """Settings from the flags, else the environment; raises ``LlmConfigError`` first.

    - endpoint: ``base_url``, else ``SAGACREW_LLM_BASE_URL``, else ``OPENAI_BASE_URL``
      (required: there is no silent default endpoint);
    - model: ``model``, else ``SAGACREW_LLM_MODEL``, else ``gpt-4o-mini``;
    - key: ``api_key``, else ``OPENAI_API_KEY`` (required; local servers that ignore it
      accept any non-empty value).
    """
    key = (api_key or "").strip() or (os.environ.get(API_KEY_ENV, "").strip() or None)
    url = (base_url or "").strip() or _first_env(BASE_URL_ENV)
    if not key or not url:
        missing = [name for name, value in (("an API key", key), ("an endpoint", url)) if not value]
        raise LlmConfigError(
            f"--llm needs an OpenAI-compatible endpoint (missing {' and '.join(missing)})",
            _MISSING_FIX,
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LlmConfigError(
            f"--llm endpoint {url!r} is not an http(s) URL",
            "set OPENAI_BASE_URL (or --llm-base-url) to e.g. https://api.openai.com/v1",
        )
    name = (model or "").strip() or os.environ.get(MODEL_ENV, "").strip() or DEFAULT_MODEL
    name = name.removeprefix("openai/")
    if not name or any(c.isspace() for c in name):
        raise LlmConfigError(
            f"--llm model {name!r} is not a model name",
            "set SAGACREW_LLM_MODEL (or --llm-model) to e.g. gpt-4o-mini",
        )
    return LlmSettings(base_url=url.rstrip("/"), model=name, api_key=key)
