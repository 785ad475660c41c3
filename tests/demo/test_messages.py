"""The demo's messages read as a person would write them: "1 step", not "1 steps"."""

from __future__ import annotations

from helicarrier.demo.scenario import MODELS, Outcome, SessionPlan, final_log
from helicarrier.formatting import plural


def test_counts_take_the_singular_for_one():
    assert [plural(n, "step") for n in (0, 1, 2)] == ["0 steps", "1 step", "2 steps"]


def test_a_session_that_succeeds_at_its_first_step_says_1_step():
    def plan(at_step: int) -> SessionPlan:
        return SessionPlan(
            MODELS[0], "coding", "Fix the build", at_step + 1, Outcome("succeeded", None, at_step)
        )

    assert final_log(plan(0)) == ("info", "task complete after 1 step: Fix the build")
    assert final_log(plan(2)) == ("info", "task complete after 3 steps: Fix the build")


def test_only_the_runaway_story_names_the_budget_guard():
    import random

    from helicarrier.demo.scenario import BUDGET_KILL, TASK_KINDS, outcome

    rng = random.Random(3)
    kills = {
        o.error
        for _ in range(3000)
        if (o := outcome(rng, rng.choice(MODELS), rng.choice(TASK_KINDS), 10)).status == "killed"
    }
    assert kills and BUDGET_KILL not in kills  # an ordinary session is not "over $5.00"
