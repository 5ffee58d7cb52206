"""The documentation site builds with ``mkdocs build --strict`` (MkDocs + Material, mkdocstrings for
the API reference), offline, into a temporary folder; its reference pages name every command,
option, spec field and record field, and the README stays a one-page map."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason='the docs extra: pip install -e ".[docs]"')
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_MKDOCS_2_WARNING": "1",
           # offline: any attempt to fetch goes to a closed port and fails the build
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    return out


def test_the_site_builds_strict_and_has_every_page(site: Path) -> None:
    for page in ("index.html", "learner/index.html", "engineer/index.html", "reference/cli/index.html",
                 "reference/spec/index.html", "reference/records/index.html", "reference/api/index.html"):
        assert (site / page).stat().st_size > 1000, page
    api = (site / "reference" / "api" / "index.html").read_text()
    for name in ("value_iteration", "policy_iteration", "learn", "simulate", "compile_spec"):
        assert f"id=\"accessrl.{name}\"" in api or f"accessrl.planning.{name}" in api or name in api


def test_the_site_loads_nothing_from_the_network(site: Path) -> None:
    bad = []
    for f in site.rglob("*"):
        if f.suffix in (".html", ".css", ".js") and f.is_file():
            text = f.read_text(errors="replace")
            bad += [(f.name, m) for m in re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(https?://[^"]+)"', text)]
            bad += [(f.name, m) for m in re.findall(r"@import url\(['\"]?(https?://[^)'\"]+)", text)]
    assert not bad, bad[:5]


def test_every_docs_page_is_in_the_nav() -> None:
    cfg = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    def pages(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, dict):
            return [p for v in node.values() for p in pages(v)]
        if isinstance(node, list):
            return [p for v in node for p in pages(v)]
        return []

    listed = set(pages(cfg["nav"]))
    on_disk = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert listed == on_disk


def test_the_cli_reference_is_what_the_generator_writes() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    from cli_reference import render

    assert (DOCS / "reference" / "cli.md").read_text() == render(), "run: python tools/cli_reference.py"


def test_the_cli_reference_names_every_command_and_option() -> None:
    import typer

    from accessrl.cli import app

    text = (DOCS / "reference" / "cli.md").read_text()
    root = typer.main.get_command(app)
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        if cmd.hidden:
            continue
        assert f"## accessrl {name}" in text
        for p in cmd.params:
            for opt in getattr(p, "opts", []):
                if opt.startswith("--") and not getattr(p, "hidden", False):
                    assert opt in text, (name, opt)


def test_the_spec_reference_names_every_field() -> None:
    from accessrl.model import spec

    text = (DOCS / "reference" / "spec.md").read_text()
    for key in sorted(spec._TOP_KEYS | spec._OUTCOME_KEYS):
        assert f"| `{key}` |" in text, key


def test_the_record_reference_names_every_field() -> None:
    from accessrl.storage import records

    text = (DOCS / "reference" / "records.md").read_text()
    source = Path(records.__file__).read_text()
    optional = set(re.findall(r'rec(?:\.get\(|\[)"([a-z_]+)"', source))
    for key in sorted(set(records.DECISION_REQUIRED) | set(records.OUTCOME_REQUIRED) | optional):
        assert f"| `{key}` |" in text, key


def test_the_readme_is_a_one_page_map() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) < 120
    assert "## Quickstart" in text and "## Where to go next" in text
    for link in re.findall(r"\]\((docs/[^)#]+)\)", text):
        assert (ROOT / link).exists(), link
    for page in ("docs/learner.md", "docs/engineer.md", "docs/reference/cli.md"):
        assert f"({page})" in text


def test_the_paths_walk_in_order() -> None:
    learner = (DOCS / "learner.md").read_text()
    steps = ["accessrl tour", "accessrl lesson", "accessrl studio", "accessrl exercise list", "accessrl lesson quiz"]
    assert [learner.index(s) for s in steps] == sorted(learner.index(s) for s in steps)
    engineer = (DOCS / "engineer.md").read_text()
    steps = ["logs ingest", "logs estimate", "learn-from-logs", "evaluate-policy", "--shadow", "accessrl promote",
             "accessrl monitor"]
    assert [engineer.index(s) for s in steps] == sorted(engineer.index(s) for s in steps)
