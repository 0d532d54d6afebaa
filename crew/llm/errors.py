"""The LLM layer's exceptions: one hierarchy, each saying what to set or change."""

from __future__ import annotations


class LlmError(Exception):
    """Base of every error the optional LLM layer raises."""


class LlmConfigError(LlmError):
    """``--llm`` cannot run: the endpoint, key or model is missing or malformed.

    ``str()`` is one line naming what to set (flag or environment variable). It is raised
    before anything else happens: no crewAI import, no network request.
    """

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}: {fix}")


class EditPathError(LlmError):
    """An edit names a path outside the allowed ones (a bug in the reviewers, not the LLM)."""


class PromptsMissingError(LlmError):
    """``prompts/agents.yaml`` or ``prompts/tasks.yaml`` is not where it should be."""
