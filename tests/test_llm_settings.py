"""``llm_settings``: flags first, then the environment; a missing key or endpoint fails
early, in one line, before crewAI is imported or anything is contacted."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fake_openai import FakeOpenAI

from sagacrew.crew.llm import LlmConfigError
from sagacrew.crew.llm import LlmSettings
from sagacrew.crew.llm import llm_settings

ENV = ("SAGACREW_LLM_BASE_URL", "OPENAI_BASE_URL", "SAGACREW_LLM_MODEL", "OPENAI_API_KEY")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env.example/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("SAGACREW_LLM_MODEL", "env-model")
    settings = llm_settings("http://flag.example/v1/", "openai/flag-model", "sk-flag")
    assert settings == LlmSettings("http://flag.example/v1", "flag-model", "sk-flag")


def test_environment_is_read_when_no_flag_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://openai-env.example/v1")
    monkeypatch.setenv("SAGACREW_LLM_BASE_URL", "http://sagacrew-env.example/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("SAGACREW_LLM_MODEL", "env-model")
    settings = llm_settings(None, None, None)
    assert (settings.base_url, settings.model, settings.api_key) == (
        "http://sagacrew-env.example/v1",
        "env-model",
        "sk-env",
    )


def test_model_defaults_to_gpt_4o_mini() -> None:
    assert llm_settings("http://localhost:1/v1", None, "sk").model == "gpt-4o-mini"


def test_api_key_never_appears_in_repr() -> None:
    assert "sk-secret" not in repr(llm_settings("http://localhost:1/v1", None, "sk-secret"))


@pytest.mark.parametrize(
    ("base_url", "api_key", "missing"),
    [
        (None, None, "missing an API key and an endpoint"),
        ("http://localhost:1/v1", None, "missing an API key"),
        (None, "sk-test", "missing an endpoint"),
    ],
)
def test_missing_key_or_endpoint_is_one_line_saying_what_to_set(
    base_url: str | None, api_key: str | None, missing: str
) -> None:
    with pytest.raises(LlmConfigError) as raised:
        llm_settings(base_url, None, api_key)
    message = str(raised.value)
    assert "\n" not in message
    assert missing in message
    assert "set OPENAI_API_KEY and OPENAI_BASE_URL (or --llm-base-url)" in message


def test_endpoint_that_is_not_http_is_refused_in_one_line() -> None:
    with pytest.raises(LlmConfigError) as raised:
        llm_settings("file:///etc/passwd\nx", None, "sk-test")
    assert "\n" not in str(raised.value)
    assert "not an http(s) URL" in str(raised.value)


def test_missing_key_contacts_nothing() -> None:
    with FakeOpenAI() as server:
        with pytest.raises(LlmConfigError):
            llm_settings(server.base_url, "fake-model", None)
        assert server.requests == []


@pytest.mark.slow
def test_importing_the_llm_layer_and_failing_settings_do_not_import_crewai() -> None:
    code = (
        "import sys\n"
        "from sagacrew.crew.llm import LlmConfigError, llm_settings\n"
        "try:\n"
        "    llm_settings(None, None, None)\n"
        "except LlmConfigError:\n"
        "    pass\n"
        "assert 'crewai' not in sys.modules, 'crewai imported'\n"
        "assert 'langchain_openai' not in sys.modules, 'langchain imported'\n"
        "assert 'openai' not in sys.modules, 'openai imported'\n"
    )
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
