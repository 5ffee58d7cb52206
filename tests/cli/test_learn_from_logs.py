"""`accessrl learn-from-logs` and `evaluate-policy --learn`: every learned candidate is scored,
reported as data and written as a policy file the other commands read."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from accessrl.cli import app
from accessrl.offline.heldout import DEFAULT_LEARNERS, LEARNERS
from cli_checks import one_error_line

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("learn") / "logs.db")
    r = runner.invoke(app, ["logs", "generate", "--model", "catalog:access-review-abandonment", "--requests", "2000",
                            "--per-hour", "1", "--epsilon", "0.3", "--seed", "3", "--db", path])
    assert r.exit_code == 0, r.output
    return path


def strings(x):
    """Every string value in a JSON document (keys left out)."""
    if isinstance(x, str):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from strings(v)


def test_learn_from_logs_offers_spibb_by_default(db, tmp_path):
    r = runner.invoke(app, ["learn-from-logs", "--db", db, "--out-dir", str(tmp_path), "--n-boot", "100", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [c["method"] for c in data["candidates"]] == list(DEFAULT_LEARNERS) == ["spibb"]
    assert data["selection"]["chosen"] == "spibb" and data["candidates"][0]["trusted"]


def test_learn_from_logs_writes_every_candidate(db, tmp_path):
    out = tmp_path / "cands"
    methods = [x for m in LEARNERS for x in ("--method", m)]
    r = runner.invoke(app, ["learn-from-logs", "--db", db, "--out-dir", str(out), "--n-boot", "200", "--json",
                            "--chosen", str(tmp_path / "chosen.yaml"), *methods])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [c["method"] for c in data["candidates"]] == list(LEARNERS)
    assert data["selection"]["chosen"] in LEARNERS and data["selection"]["criterion"] == "lower_bound"
    assert all(" " not in s for s in strings({k: v for k, v in data.items() if k != "candidates"})), \
        "fields hold names and codes, not sentences"
    for c in data["candidates"]:
        assert yaml.safe_load(open(c["file"])) == c["policy_mapping"]
        assert c["support"] in ("ok", "unlogged_action", "no_action")
        assert {k["code"] for k in c["checks"]} and all(" " not in k["code"] for k in c["checks"])
    best = max((c for c in data["candidates"] if c["trusted"]), key=lambda c: c["estimates"]["wis"]["low"])
    assert data["selection"]["chosen"] == best["method"]
    assert data["selection"]["scores"] == {c["method"]: c["estimates"]["wis"]["low"] if c["trusted"] else None
                                           for c in data["candidates"]}
    # the optimum of this workflow (exact planning: review first, 54.0) is what the model learns
    assert data["candidates"][0]["policy_mapping"]["new_request"] == "human_review"
    # the chosen file is read back by evaluate-policy
    r = runner.invoke(app, ["evaluate-policy", "--db", db, "--policy", str(tmp_path / "chosen.yaml"), "--json",
                            "--n-boot", "200"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["policies"][0]["supported"]


def test_learn_from_logs_table_and_one_method(db, tmp_path):
    r = runner.invoke(app, ["learn-from-logs", "--db", db, "--out-dir", str(tmp_path), "--method", "pessimistic",
                            "--n-boot", "100"])
    assert r.exit_code == 0, r.output
    assert "pessimistic" in r.output and (tmp_path / "pessimistic.yaml").exists()
    assert not (tmp_path / "fqi.yaml").exists()


def test_learn_from_logs_bad_method_is_one_line(db, tmp_path):
    r = runner.invoke(app, ["learn-from-logs", "--db", db, "--out-dir", str(tmp_path), "--method", "dqn"])
    one_error_line(r, "--method", "dqn", code=(1, 2))


def test_evaluate_policy_reports_and_writes_every_learned_policy(db, tmp_path):
    pol = tmp_path / "review.yaml"
    pol.write_text("new_request: human_review\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    r = runner.invoke(app, ["evaluate-policy", "--db", db, "--policy", str(pol), "--learn", "fqi", "--learn", "spibb",
                            "--learned-dir", str(tmp_path / "learned"), "--n-boot", "100", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [p["policy"] for p in data["policies"]] == ["review", "fqi", "spibb"]
    assert [p["learned"] for p in data["policies"]] == [False, True, True]
    assert set(data["selection"]["scores"]) == {"fqi", "spibb"}
    assert data["selection"]["chosen"] in ("fqi", "spibb")
    for m in ("fqi", "spibb"):
        assert (tmp_path / "learned" / f"{m}.yaml").exists()
    assert all(" " not in s for s in strings(data["selection"]))


def test_evaluate_policy_gives_promotes_verdict_against_an_incumbent(db, tmp_path):
    evidence = tmp_path / "evidence_first.yaml"
    evidence.write_text("new_request: request_evidence\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    reckless = tmp_path / "reckless.yaml"
    reckless.write_text("new_request: auto_approve\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    r = runner.invoke(app, ["evaluate-policy", "--db", db, "--incumbent", str(evidence), "--policy", str(reckless),
                            "--learn", "model", "--learned-dir", str(tmp_path / "l"), "--n-boot", "100", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [p["policy"] for p in data["policies"]] == ["evidence_first", "reckless", "model"]
    by = {v["candidate"]["policy"]: v for v in data["verdicts"]}
    assert "severe_errors" in by["reckless"]["codes"] and not by["reckless"]["promote"]
    assert by["model"]["promote"] and by["model"]["incumbent"]["policy"] == "evidence_first"
