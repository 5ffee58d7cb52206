"""Round trips that hold: spec -> MDP -> spec -> MDP, and MDP -> .npz -> MDP, give the same model."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accessrl.catalog import CATALOG
from accessrl.catalog.workflows import FactoredNames, rand
from accessrl.errors import SpecFileError, SpecValueError
from accessrl.model.mdp import MDP
from accessrl.model.spec import compile_spec, spec_from_mdp
from accessrl.specfile import load_binary, load_model, save_binary, save_model
from model_equality import assert_same_model, model_differences

SMALL_WORKFLOW = {"max_days": 3, "max_reminders": 1, "queue_capacity": 2, "max_escalation": 1}


def catalog_model(name: str) -> MDP:
    factory = CATALOG[name]
    return factory(**SMALL_WORKFLOW) if name.startswith("access-review-workflow") else factory()


def spec_round_trip(mdp: MDP) -> MDP:
    return compile_spec(spec_from_mdp(mdp), source="round trip")


def binary_round_trip(mdp: MDP, folder: Path, *, mmap: bool = True) -> MDP:
    path = folder / "model.npz"
    save_binary(mdp, path)
    return load_binary(path, mmap=mmap)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_spec_round_trip(name):
    mdp = catalog_model(name)
    again = spec_round_trip(mdp)
    assert_same_model(mdp, again)
    assert spec_from_mdp(again) == spec_from_mdp(mdp)


@pytest.mark.parametrize("name", sorted(CATALOG))
@pytest.mark.parametrize("mmap", [True, False])
def test_catalog_binary_round_trip(name, mmap, tmp_path):
    mdp = catalog_model(name)
    back = binary_round_trip(mdp, tmp_path, mmap=mmap)
    assert_same_model(mdp, back)
    # absent annotations stay absent, present ones keep their exact form
    for k in ("severe", "forbidden", "unsafe", "events"):
        assert (getattr(back, k) is None) == (getattr(mdp, k) is None), k
    if mdp.events is not None:
        assert back.events == mdp.events


@pytest.mark.parametrize("name", sorted(CATALOG))
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_catalog_spec_file_round_trip(name, suffix, tmp_path):
    mdp = catalog_model(name)
    save_model(mdp, tmp_path / f"m{suffix}")
    assert_same_model(mdp, load_model(tmp_path / f"m{suffix}"))


def test_workflow_binary_members_are_mapped(tmp_path):
    mdp = catalog_model("access-review-workflow")
    flagged = replace(mdp, severe=mdp.out_reward < -50, unsafe=np.arange(mdp.n_pairs) % 7 == 0,
                      components={"r": mdp.out_reward.copy()}, weights={"r": 1.0},
                      events=tuple("low" if r < 0 else "" for r in mdp.out_reward.tolist()))
    back = binary_round_trip(flagged, tmp_path)
    assert_same_model(flagged, back)
    assert isinstance(back.state_names, FactoredNames)
    assert isinstance(back.out_prob, np.memmap) and isinstance(back.severe, np.memmap)
    assert isinstance(back.components["r"], np.memmap)
    with np.load(tmp_path / "model.npz") as z:  # uncompressed: every member is stored
        assert {"severe", "unsafe", "component_0", "event_code"} <= set(z.files)
    import zipfile

    with zipfile.ZipFile(tmp_path / "model.npz") as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}


def test_rand_and_unused_actions_round_trip(tmp_path):
    m = rand(6, 3, 2, rng=np.random.default_rng(1))
    assert_same_model(m, spec_round_trip(m))
    assert_same_model(m, binary_round_trip(m, tmp_path))
    # an action no state offers, and a state whose actions come in reverse global order
    spec = {"gamma": 0.5, "actions": ["x", "unused", "y"], "terminal": ["t"],
            "transitions": {"s": {"y": {"next": "t", "reward": 1}, "x": {"next": "t", "reward": 2}}}}
    m = compile_spec(spec)
    assert m.action_names == ("x", "unused", "y")
    assert spec_from_mdp(m)["actions"] == ["x", "unused", "y"]
    assert_same_model(m, spec_round_trip(m))
    assert "actions" not in spec_from_mdp(catalog_model("access-review"))


def test_actions_field_errors():
    base = {"gamma": 0.5, "terminal": ["t"], "transitions": {"s": {"go": {"next": "t", "reward": 1}}}}
    with pytest.raises(SpecValueError, match="field actions: missing 'go'"):
        compile_spec({**base, "actions": ["stay"]})
    with pytest.raises(SpecValueError, match="duplicate action name 'go'"):
        compile_spec({**base, "actions": ["go", "go"]})


def test_components_with_and_without_reward():
    spec = {"gamma": 0.9, "terminal": ["t"], "weights": {"a": 2.0, "b": -0.1},
            "transitions": {"s": {
                "weighted": {"next": "t", "components": {"a": 1, "b": 0.3}},
                "given": {"next": "t", "reward": 5, "components": {"a": 1}},
                "plain": [{"next": "t", "p": 0.5, "reward": 1}, {"next": "s", "p": 0.5, "components": {"b": 7}}],
            }}}
    m = compile_spec(spec)
    out = spec_from_mdp(m)
    trans = out["transitions"]["s"]
    assert "reward" not in trans["weighted"][0] and trans["given"][0]["reward"] == 5
    assert out["weights"] == {"a": 2, "b": -0.1}
    assert_same_model(m, compile_spec(out))
    # without weights every outcome keeps its scalar reward next to the components
    bare = replace(m, weights={})
    assert all("reward" in o for outs in spec_from_mdp(bare)["transitions"]["s"].values() for o in outs)
    assert_same_model(bare, spec_round_trip(bare))


def test_flags_are_written_as_never_explore():
    spec = {"gamma": 0.9, "terminal": ["t"], "start": "u", "name": "flags",
            "forbidden": ["s:go"], "never_explore": ["u:go", "s:stay"],
            "transitions": {"s": {"go": {"next": "t", "reward": 1}, "stay": {"next": "s", "reward": 0}},
                            "u": {"go": {"next": "s", "reward": 0}}}}
    m = compile_spec(spec)
    out = spec_from_mdp(m)
    assert "unsafe" not in out and out["never_explore"] == ["s:stay", "u:go"] and out["forbidden"] == ["s:go"]
    assert out["start"] == "u" and out["name"] == "flags"
    assert_same_model(m, compile_spec(out))


def test_models_no_spec_can_express():
    m = catalog_model("access-review")
    term = np.asarray(m.terminal).copy()
    term[0] = True
    with pytest.raises(SpecValueError, match="state 'new_request': a terminal state owns no pairs"):
        replace(m, terminal=term)  # the model itself refuses it now, so no spec is needed to
    with pytest.raises(SpecValueError, match="state 'new_request' has action 'auto_approve' twice"):
        spec_from_mdp(replace(m, sa_action=np.zeros_like(m.sa_action)))
    unsafe = np.zeros(m.n_pairs, dtype=bool)
    unsafe[0] = True
    with pytest.raises(SpecValueError, match="contains ':' and cannot be listed in never_explore"):
        spec_from_mdp(replace(m, unsafe=unsafe, action_names=("a:b", *m.action_names[1:])))


def test_equality_helper_sees_differences():
    m = catalog_model("access-review-deny")
    assert model_differences(m, m) == []
    assert model_differences(m, replace(m, weights={})) and model_differences(m, replace(m, start=1))
    assert "severe" in model_differences(m, replace(m, severe=None))
    assert "events" in model_differences(m, replace(m, events=None))
    assert model_differences(m, replace(m, components={}))


def test_loads_binary_files_without_the_new_members(tmp_path):
    """Files written before flags, events, components and weights were stored still load."""
    mdp = catalog_model("access-review-abandonment")
    old = {k: getattr(mdp, k) for k in ("terminal", "sa_ptr", "sa_action", "out_ptr", "out_next", "out_prob", "out_reward")}
    meta = {"name": mdp.name, "gamma": mdp.gamma, "start": mdp.start, "format": "accessrl-csr-1"}
    np.savez(tmp_path / "old.npz", **old,
             states=np.frombuffer("\n".join(mdp.state_names).encode(), dtype=np.uint8),
             actions=np.frombuffer("\n".join(mdp.action_names).encode(), dtype=np.uint8),
             meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    back = load_binary(tmp_path / "old.npz")
    assert back.events is None and back.components == {} and back.weights == {} and back.severe is None
    assert_same_model(replace(mdp, events=None), back)


def test_damaged_binary_annotations(tmp_path):
    mdp = catalog_model("access-review-deny")
    save_binary(mdp, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as z:
        members = {k: z[k] for k in z.files}
    members["component_0"] = members["component_0"][:-1]
    np.savez(tmp_path / "m.npz", **members)
    with pytest.raises(SpecValueError, match=r"m\.npz: component 'user_outcome': expected 13 entries \(one per outcome\)"):
        load_binary(tmp_path / "m.npz")


def test_unknown_binary_format(tmp_path):
    save_binary(catalog_model("access-review"), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as z:
        members = {k: z[k] for k in z.files}
    meta = json.loads(members["meta"].tobytes().decode())
    members["meta"] = np.frombuffer(json.dumps({**meta, "format": "accessrl-csr-99"}).encode(), dtype=np.uint8)
    np.savez(tmp_path / "m.npz", **members)
    with pytest.raises(SpecFileError, match="unknown binary model format 'accessrl-csr-99'"):
        load_binary(tmp_path / "m.npz")


_NAMES = st.sampled_from(["a", "b", "c", "d", "new request", "é"])
_VALUES = st.one_of(st.integers(-50, 50), st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))
_COMPONENTS = ("c1", "c2", "c3")


@st.composite
def random_specs(draw):
    n_live = draw(st.integers(1, 4))
    n_term = draw(st.integers(0, 2))
    live = [f"s:{i}" if i == 1 else f"s{i}" for i in range(n_live)]  # 's:1': flags split at the last ':'
    terms = [f"t{i}" for i in range(n_term)]
    everyone = live + terms
    action_pool = draw(st.lists(_NAMES, min_size=1, max_size=4, unique=True))
    use_components = draw(st.booleans())
    weighted = use_components and draw(st.booleans())
    weights = {c: draw(_VALUES) for c in _COMPONENTS} if weighted else {}
    transitions = {}
    pairs = []
    for s in live:
        acts = draw(st.permutations(action_pool))[: draw(st.integers(1, len(action_pool)))]
        transitions[s] = {}
        for a in acts:
            pairs.append(f"{s}:{a}")
            k = draw(st.integers(1, 3))
            w = draw(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k))
            total = sum(w)
            probs = [x / total for x in w] if total > 0 else [1.0 / k] * k
            outs = []
            for j in range(k):
                o = {"next": draw(st.sampled_from(everyone)), "p": probs[j]}
                if k == 1 and draw(st.booleans()):
                    del o["p"]  # a lone outcome's p defaults to 1
                named = draw(st.lists(st.sampled_from(_COMPONENTS), unique=True)) if use_components else []
                if named:
                    o["components"] = {c: draw(_VALUES) for c in named}
                if not (weighted and named) or draw(st.booleans()):
                    o["reward"] = draw(_VALUES)
                if draw(st.booleans()):
                    o["severe"] = draw(st.booleans())
                if draw(st.booleans()):
                    o["event"] = draw(st.sampled_from(["", "abandoned", "approved"]))
                outs.append(o)
            transitions[s][a] = outs[0] if k == 1 and draw(st.booleans()) else outs
    spec = {"gamma": draw(st.floats(0.01, 1.0)), "terminal": terms, "transitions": transitions}
    if weights:
        spec["weights"] = weights
    if draw(st.booleans()):
        spec["name"] = draw(_NAMES)
    if draw(st.booleans()):
        spec["start"] = draw(st.sampled_from(everyone))
    if draw(st.booleans()):
        spec["states"] = draw(st.permutations(everyone))
    if draw(st.booleans()):
        spec["actions"] = draw(st.permutations(action_pool + ["never used"]))
    firsts = {f"{s}:{next(iter(transitions[s]))}" for s in live}  # a state keeps one allowed action
    for key, pool in (("forbidden", [p for p in pairs if p not in firsts]), ("never_explore", pairs)):
        if pool and draw(st.booleans()):
            spec[key] = draw(st.lists(st.sampled_from(pool), unique=True))
    return spec


@settings(max_examples=100, deadline=None)
@given(random_specs())
def test_random_specs_round_trip(spec):
    mdp = compile_spec(spec)
    again = spec_round_trip(mdp)
    assert_same_model(mdp, again)
    assert spec_from_mdp(again) == spec_from_mdp(mdp)
    with tempfile.TemporaryDirectory() as folder:
        for mmap in (True, False):
            back = binary_round_trip(mdp, Path(folder), mmap=mmap)
            assert_same_model(mdp, back)
            assert back.events == mdp.events
