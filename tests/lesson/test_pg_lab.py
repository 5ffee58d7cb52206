"""Lab 9 prints the lesson's lines from the library's general code."""

from lab_lines import assert_lab_prints

# ../shared/seed/lab_outputs.txt, section [policy-gradient] (the lesson's own output).
EXPECTED = [
    "auto_approve  before=0.333 after=0.089",
    "request_evidence before=0.333 after=0.403",
    "human_review  before=0.333 after=0.508",
]


def test_policy_gradient_lab_lines():
    assert_lab_prints("policy-gradient", EXPECTED)


def test_lab_follows_the_model():
    # The lab reads Q* from the model, so a different abandonment probability moves it:
    # the lesson's returns are not constants in the lab.
    from accessrl.catalog.lesson import access_review_abandonment
    from accessrl.planning.exact import policy_iteration

    q = policy_iteration(access_review_abandonment()).q_values[:3]
    assert q.round(2).tolist() == [-120.0, 30.75, 54.0]  # lesson: abandonment lab
