"""What the timed benchmarks print about their goal."""

from __future__ import annotations


def against_goal(seconds: float, goal_s: float) -> str:
    """``seconds`` against ``goal_s`` (met when below it), e.g.
    ``"vs the 3 s goal: 0.10 (met)"``."""
    verdict = "met" if seconds < goal_s else "MISSED"
    return f"vs the {goal_s:.0f} s goal: {seconds / goal_s:.2f} ({verdict})"
