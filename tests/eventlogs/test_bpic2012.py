"""BPIC 2012 (van Dongen, 4TU.ResearchData, doi:10.4121/uuid:3926db30-f712-4394-aebc-75976070e91f)
imported with examples/eventlogs/bpic2012.yaml, every figure cross-checked against pandas on the raw XES
(read by ElementTree, not by accessrl's reader)."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from accessrl.storage import DecisionLog

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
