"""Labs 5-7 print the lesson's lines (from shared/seed/lab_outputs.txt, copied here)."""

import pytest

from accessrl.lesson import run_lab
from lab_lines import assert_lab_prints

# What the lesson prints (its own listings' output), copied from the lesson.
EXPECTED = {
    "monte-carlo": [
        "request_evidence mean=30.33",
        "human_review mean=54.00",
        "abandoned evidence routes = 2537",
    ],
    "q-learning": [
        "Q(new_request, auto_approve ) = -120.0",
        "Q(new_request, request_evidence) =   30.5",
        "Q(new_request, human_review ) =   54.0",
        "learned start action = human_review",
    ],
    "exploration": [
        "epsilon=0.00 visits={'auto_approve': 1, 'request_evidence': 399, 'human_review': 0} selected=request_evidence",
        "epsilon=0.10 visits={'auto_approve': 19, 'request_evidence': 24, 'human_review': 357} selected=human_review",
    ],
}


@pytest.mark.parametrize("lab", list(EXPECTED))
def test_lab_prints_lesson_lines(lab):
    assert_lab_prints(lab, EXPECTED[lab])


@pytest.mark.parametrize("lab", list(EXPECTED))
def test_lab_lines_exact_padding(lab):
    assert run_lab(lab) == EXPECTED[lab]
