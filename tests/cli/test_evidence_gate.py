"""The reported reproduction: a candidate worth -33 promoted over one worth 54 on one episode.

Model (``examples/fast_track.yaml``): ``new_request`` -> ``human_review`` (-18, then +80 at
``review_queue``: 54 at gamma 0.9) or ``fast_track`` (p 0.3: +100, p 0.7: -90; value -33).
Behaviour ``human_review`` with epsilon 0.004 over 3,000 requests (seed 13) leaves one
``fast_track`` episode in the 600 of the test period; it returned +100, and the old gate
reported WIS 100 [100, 100] and "promote": true.
"""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accessrl.cli import app

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "examples" / "fast_track.yaml")
BEHAVIOR = str(ROOT / "examples" / "policy_human_review.yaml")
CANDIDATE = str(ROOT / "examples" / "policy_fast_track.yaml")
runner = CliRunner()


@pytest.fixture(scope="module")
def issue_db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("gate") / "logs.db")
    r = runner.invoke(app, ["logs", "generate", SPEC, "--behavior", BEHAVIOR, "--epsilon", "0.004",
                            "--requests", "3000", "--seed", "13", "--db", path])
    assert r.exit_code == 0, r.output
    return path


def test_the_issue_case_is_not_promoted_and_the_verdict_names_why(issue_db):
    r = runner.invoke(app, ["evaluate-policy", "--policy", CANDIDATE, "--incumbent", BEHAVIOR, "--db", issue_db,
                            "--json", "--n-boot", "300"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    cand = next(p for p in data["policies"] if p["policy"] == "policy_fast_track")
    assert cand["matching_episodes"] <= 4  # the case as filed: 1 of 600
    (verdict,) = data["verdicts"]
    assert verdict["promote"] is False
    assert "too_few_matching_episodes" in verdict["codes"]
    assert "effective_sample_size_too_small" in verdict["codes"]
    wis = cand["estimates"]["wis"]
    assert wis["high"] - wis["low"] > 100, "an interval from one episode must not look certain"
    # every check as data, for both policies and the verdict; the rules recorded beside them
    assert not cand["evidence"]["trusted"] and data["policies"][0]["evidence"]["trusted"]
    assert {c["code"] for c in verdict["checks"]} >= {"too_few_matching_episodes", "effective_sample_size_too_small",
                                                       "lower_bound_not_above_incumbent", "incumbent_matching_episodes"}
    assert data["rules"] == verdict["rules"] == {"min_matching": 30, "min_ess": 30.0, "min_held": 30, "max_severe": 0,
                                                 "agreement": "refuse", "estimator": "wis"}
    assert cand["support_basis"] == "propensities"
    assert [s["state"] for s in cand["support_by_state"]] == ["new_request", "review_queue"]


def test_rules_are_options_and_bad_ones_are_one_line(issue_db):
    from cli_checks import one_error_line

    r = runner.invoke(app, ["evaluate-policy", "--policy", CANDIDATE, "--incumbent", BEHAVIOR, "--db", issue_db,
                            "--json", "--n-boot", "100", "--min-matching", "1", "--min-ess", "1"])
    (verdict,) = json.loads(r.stdout)["verdicts"]
    assert verdict["codes"] == ["lower_bound_not_above_incumbent"]  # counts pass; the floored interval does not
    one_error_line(runner.invoke(app, ["evaluate-policy", "--policy", CANDIDATE, "--db", issue_db, "--min-ess", "-1"]),
                   "--min-ess", code=2)
    one_error_line(runner.invoke(app, ["evaluate-policy", "--policy", CANDIDATE, "--db", issue_db, "--agreement",
                                       "maybe"]), "--agreement", code=2)


def test_the_readme_quotes_this_verdict(issue_db):
    """The README's worked example prints what the command prints (default seed and resamples)."""
    import re

    from docs_text import documentation

    text = documentation()
    block = re.search(r"```\n(verdict for policy_fast_track.*?)```", text, re.S)
    assert block, "the README quotes the worked example's verdict"
    r = runner.invoke(app, ["evaluate-policy", "--db", issue_db, "--policy", CANDIDATE, "--incumbent", BEHAVIOR])
    assert r.exit_code == 0, r.output
    printed = [line.rstrip() for line in r.output.splitlines()]
    start = printed.index(block.group(1).splitlines()[0])
    assert printed[start:start + len(block.group(1).splitlines())] == block.group(1).rstrip("\n").splitlines()
