"""BPIC 2012 (van Dongen, 4TU.ResearchData, doi:10.4121/uuid:3926db30-f712-4394-aebc-75976070e91f)
imported with examples/eventlogs/bpic2012.yaml, every figure cross-checked against pandas on the raw XES
(read by ElementTree, not by accessrl's reader)."""

from __future__ import annotations

from collections import Counter

import pytest

from accessrl.storage import DecisionLog

pd = pytest.importorskip("pandas", reason="pandas is not installed (these cross-checks compute with it)")

pytestmark = pytest.mark.slow

ENDS = {"A_APPROVED": "approved", "A_DECLINED": "declined", "A_CANCELLED": "cancelled"}
DECISIONS = {"A_PREACCEPTED": "preaccept", "W_Nabellen incomplete dossiers": "request_documents", "O_SENT": "send_offer",
             "W_Nabellen offertes": "call_about_offer", "W_Valideren aanvraag": "validate", "A_APPROVED": "approve",
             "A_DECLINED": "decline"}


def _complete(frame: pd.DataFrame) -> pd.DataFrame:
    done = frame[frame["lifecycle"].str.lower() == "complete"]
    return done.sort_values(["case", "timestamp", "order"], kind="stable")


def _until_end(done: pd.DataFrame) -> pd.DataFrame:
    """Each case's events up to and including its first terminal one (approve, decline, cancel)."""
    term = done["activity"].isin(list(ENDS)).astype(int)
    before = term.groupby(done["case"]).cumsum() - term  # terminal events strictly before this one
    return done[before == 0]


def test_cases_events_and_outcomes_match_pandas(bpic_db, bpic_frame):
    db, rep = bpic_db
    assert rep["cases"] == bpic_frame["case"].nunique() == 13_087  # the README's count
    assert rep["events"] == len(bpic_frame) == 262_200
    assert rep["rejects"] == 0
    done = _complete(bpic_frame)
    assert rep["events_per_activity"] == done["activity"].value_counts().to_dict()
    first_end = _until_end(done)
    ends = first_end[first_end["activity"].isin(list(ENDS))].groupby("case")["activity"].first().map(ENDS)
    assert rep["ended"] == ends.value_counts().to_dict()
    assert rep["open_cases"] == 13_087 - len(ends)
    decisions = first_end[first_end["activity"].isin(list(DECISIONS))]
    assert rep["decisions"] == len(decisions)
    stored = Counter(r["action"] for r in DecisionLog(db, create=False).iter_records() if r["record"] == "decision")
    assert stored == Counter(decisions["activity"].map(DECISIONS))


def test_cancellations_after_a_documents_request_match_pandas(bpic_db, bpic_frame):
    db, _ = bpic_db
    first_end = _until_end(_complete(bpic_frame))
    last = first_end.groupby("case").tail(1)
    cancelled = set(last.loc[last["activity"] == "A_CANCELLED", "case"])
    asked = set(first_end.loc[first_end["activity"] == "W_Nabellen incomplete dossiers", "case"])
    expected = len(cancelled & asked)
    recs = list(DecisionLog(db, create=False).iter_records())
    episodes_asked = {r["episode_id"] for r in recs if r["record"] == "decision" and r["action"] == "request_documents"}
    episodes_cancelled = {r["episode_id"] for r in recs if r["record"] == "outcome" and r.get("next_state") == "cancelled"}
    assert len(episodes_asked & episodes_cancelled) == expected
    assert expected > 100  # a substantial group: the applicants lost while documents were awaited


def test_propensities_are_estimated_before_the_training_cutoff(bpic_db):
    db, rep = bpic_db
    decs = [r for r in DecisionLog(db, create=False).iter_records() if r["record"] == "decision"]
    assert rep["propensities"]["training_decisions"] == sum(r["decided_at"] < "2012-01-01" for r in decs)
    train = Counter((r["state"], r["action"]) for r in decs if r["decided_at"] < "2012-01-01")
    for r in decs[:: max(1, len(decs) // 500)]:
        acts = r["allowed_actions"]
        n = sum(train[(r["state"], a)] for a in acts)
        assert r["propensity"] == pytest.approx((train[(r["state"], r["action"])] + 1) / (n + len(acts)))
        assert r["mode"] == "historical" and r["features"]["propensity"] == "estimated"


def test_abandonment_after_the_last_offer_matches_pandas_and_rises_in_days_28_to_35(bpic_db, bpic_frame):
    """Time waited since the last offer was sent (the mapping's send_offer stage: follow-up calls keep it)
    until the applicant cancels; a visit that moved on (offer returned, documents asked, validated, approved,
    declined) is censored when it did, one still waiting at the log's end at that end."""
    import json

    from typer.testing import CliRunner

    from accessrl.cli import app

    db, _ = bpic_db
    r = CliRunner().invoke(app, ["logs", "abandonment", "--db", db, "--stage", "send_offer", "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)["stages"][0]
    # independently: pandas over the raw events
    first_end = _until_end(_complete(bpic_frame))
    changing = set(DECISIONS) - {"W_Nabellen offertes"} | {"O_SENT_BACK", "A_CANCELLED"}
    moves = first_end[first_end["activity"].isin(changing)]
    log_end = first_end.loc[first_end["activity"].isin(set(DECISIONS) | {"O_SENT_BACK", "A_CANCELLED"}), "timestamp"].max()
    nxt = moves.groupby("case")[["activity", "timestamp"]].shift(-1)
    offers = moves[moves["activity"] == "O_SENT"].join(nxt.add_suffix("_next"))
    end = offers["timestamp_next"].fillna(log_end)
    days = (end - offers["timestamp"]).dt.total_seconds() / 86_400
    event = (offers["activity_next"] == "A_CANCELLED").astype(int)
    assert got["visits"] == len(offers) and got["abandoned"] == int(event.sum())
    for b in got["hazard"]:
        hi = b["end"] if b["end"] is not None else float("inf")
        entering = int((days >= b["start"]).sum())
        inside = (days >= b["start"]) & (days < hi)
        d, c = int((inside & (event == 1)).sum()), int((inside & (event == 0)).sum())
        assert (b["entering"], b["events"], b["censored"]) == (entering, d, c)
        if entering:
            assert b["hazard"] == pytest.approx(d / (entering - c / 2))
    h = {b["start"]: b["hazard"] for b in got["hazard"]}
    # offers expire after about 30 days: the hazard in days 28-35 dwarfs every earlier bucket
    assert h[28.0] > 0.8 and h[28.0] > 4 * max(h[0.0], h[7.0], h[14.0])
