"""`promote --incumbent FILE` on an imported (historical) log, where no deployment is recorded:
the incumbent file is the baseline, the verdict is `evaluate-policy --incumbent --prevent-leakage`'s,
a refused candidate records nothing, a promoted one is recorded with the incumbent as the deployment
it replaced (so `rollback` restores the incumbent), and with a deployment recorded a different
`--incumbent` is refused.

Data: the BPIC 2012 excerpt (tests/storage/data/bpic2012_excerpt.xes.gz, every 20th trace of BPI
Challenge 2012, B.F. van Dongen, 4TU.ResearchData, doi:10.4121/uuid:3926db30-f712-4394-aebc-75976070e91f)
imported with examples/eventlogs/bpic2012.yaml, and a generated log of the lesson's workflow stored as
mode ``historical`` (the log tests/service/test_promotion.py drives through the service)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from accessrl.catalog.lesson import access_review_abandonment_spec
from accessrl.cli import app
from accessrl.model.spec import compile_spec
from accessrl.offline.logsim import simulate_logs
from accessrl.specfile import resolve_policy
from accessrl.storage import DecisionLog
from accessrl.storage import writepath as st
from accessrl.storage.generated import write_generated
from accessrl.storage.times import to_us

ROOT = Path(__file__).resolve().parents[2]
EXCERPT = ROOT / "tests" / "storage" / "data" / "bpic2012_excerpt.xes.gz"
MAPPING = ROOT / "examples" / "eventlogs" / "bpic2012.yaml"
EVIDENCE_FIRST = "new_request: request_evidence\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n"
REVIEW_FIRST = "new_request: human_review\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n"
runner = CliRunner()


def cli(*args: str, codes: tuple[int, ...] = (0,)):
    r = runner.invoke(app, list(args))
    assert r.exit_code in codes, (args, r.output)
    assert "Traceback" not in r.output
    return r


def deployments(db: str) -> list[dict]:
    store = st.Store(st.open_engine(db))
    try:
        return store.deployments()
    finally:
        store.close()


def verdict_of_evaluate_policy(db: str, candidate: Path, incumbent: Path) -> dict:
    r = cli("evaluate-policy", "--db", db, "--policy", str(candidate), "--incumbent", str(incumbent),
            "--prevent-leakage", "--json", codes=(0, 1))
    (verdict,) = json.loads(r.stdout)["verdicts"]
    return verdict


@pytest.fixture
def historical_log(tmp_path: Path, db_url: str):
    """2,000 requests of the lesson's workflow under evidence-first with exploration 0.5, stored
    as imported history (mode historical, no deployment)."""
    mdp = compile_spec(access_review_abandonment_spec())
    inc = tmp_path / "evidence_first.yaml"
    inc.write_text(EVIDENCE_FIRST)
    log = simulate_logs(mdp, resolve_policy(mdp, str(inc)).probabilities, n_requests=2000,
                        start_us=to_us("2026-01-05"), rng=np.random.default_rng(7), epsilon=0.5)
    dlog = DecisionLog(db_url)
    write_generated(dlog, log, mdp, mode="historical", policy_id="evidence_first")
    dlog.close()
    return db_url, inc


def test_without_a_deployment_the_error_names_incumbent(historical_log, tmp_path: Path) -> None:
    db, _ = historical_log
    cand = tmp_path / "review_first.yaml"
    cand.write_text(REVIEW_FIRST)
    r = cli("promote", "--candidate", str(cand), "--db", db, codes=(1,))
    assert "--incumbent" in r.stderr and "no deployed policy recorded" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert deployments(db) == []


def test_a_better_candidate_on_history_is_recorded_and_rollback_restores_the_incumbent(historical_log,
                                                                                         tmp_path: Path) -> None:
    db, inc = historical_log
    cand = tmp_path / "review_first.yaml"
    cand.write_text(REVIEW_FIRST)
    expected = verdict_of_evaluate_policy(db, cand, inc)
    assert deployments(db) == []  # evaluate-policy records nothing
    r = cli("promote", "--candidate", str(cand), "--incumbent", str(inc), "--db", db, "--by", "alice", "--json")
    verdict = json.loads(r.stdout)
    assert verdict.pop("deployment_id") is not None
    assert verdict == expected and verdict["promote"] is True
    # review first: -18 + 0.9 * 80 on every episode that follows it (tests/service/test_promotion.py)
    assert verdict["candidate"]["estimate"] == pytest.approx(54.0)
    base, new = deployments(db)
    assert (base["policy_id"], base["previous_id"], json.loads(base["evidence"])["action"]) == \
        ("evidence_first", None, "baseline")
    assert json.loads(base["policy"])["new_request"] == {"request_evidence": 1.0}
    assert (new["policy_id"], new["promoted_by"], new["previous_id"]) == ("review_first", "alice", base["id"])
    evidence = json.loads(new["evidence"])
    assert evidence["incumbent"]["policy"] == "evidence_first" and "estimated_model" in evidence

    # monitor checks against the deployment now recorded
    mon = json.loads(cli("monitor", "--db", db, "--json", codes=(0, 1)).stdout)
    assert (mon["reference"], mon["deployment_id"], mon["policy_id"]) == ("deployment", new["id"], "review_first")

    # with a deployment recorded: a different --incumbent is refused in one line, the same one is accepted
    r = cli("promote", "--candidate", str(inc), "--incumbent", str(inc), "--db", db, codes=(2,))
    assert "differs from the policy deployed" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert len(deployments(db)) == 2
    r = cli("promote", "--candidate", str(inc), "--incumbent", str(cand), "--db", db, codes=(1,))
    assert "not promoted" in r.stdout and len(deployments(db)) == 2

    r = cli("rollback", "--db", db, "--by", "bob")
    back = deployments(db)[-1]
    assert (back["policy_id"], back["policy"], back["promoted_by"]) == ("evidence_first", base["policy"], "bob")
    assert json.loads(back["evidence"])["restores"] == base["id"]
    r = cli("rollback", "--db", db, codes=(1,))  # the incumbent was the first deployment
    assert "no earlier deployment" in r.stderr


def test_a_refused_candidate_on_an_imported_log_records_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "bpic.db")
    beh = tmp_path / "behavior.yaml"
    cli("logs", "import", str(EXCERPT), "--mapping", str(MAPPING), "--db", db, "--behavior-out", str(beh), "--json")
    # SPIBB learned on the excerpt: its lower bound does not beat the behaviour (the loop test's verdict)
    cli("learn-from-logs", "--db", db, "--out-dir", str(tmp_path / "lp"), "--method", "spibb", "--json",
        codes=(0, 1))
    cand = tmp_path / "lp" / "spibb.yaml"
    expected = verdict_of_evaluate_policy(db, cand, beh)
    r = cli("promote", "--candidate", str(cand), "--incumbent", str(beh), "--db", db, "--json", codes=(1,))
    verdict = json.loads(r.stdout)
    assert verdict.pop("deployment_id") is None
    assert verdict == expected and verdict["promote"] is False and verdict["codes"]
    assert deployments(db) == []
    text = cli("promote", "--candidate", str(cand), "--incumbent", str(beh), "--db", db, codes=(1,)).stdout
    assert "incumbent behavior (--incumbent; no deployment recorded" in text and text.rstrip().splitlines()[-1] \
        .startswith("not promoted: ")
    assert deployments(db) == []


def test_states_a_file_does_not_name_are_recorded_as_the_incumbent_plays_them() -> None:
    from accessrl.service.promotion import complete_mapping

    mdp = compile_spec(access_review_abandonment_spec())
    full, filled = complete_mapping(mdp, {"new_request": "human_review"},
                                    {"evidence_ready": {"auto_approve": 1.0}}, source="cand.yaml")
    assert full["new_request"] == "human_review" and full["evidence_ready"] == {"auto_approve": 1.0}
    # named by neither: uniform over the state's actions in the model
    s = mdp.state_names.index("review_queue")
    actions = [mdp.action_names[int(a)] for a in mdp.sa_action[int(mdp.sa_ptr[s]):int(mdp.sa_ptr[s + 1])]]
    assert full["review_queue"] == {a: pytest.approx(1 / len(actions)) for a in actions}
    assert sorted(filled) == ["evidence_ready", "review_queue"]
