"""`accessrl tour`: every step runs on a tiny budget and the report names each one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accessrl.cli import app
from accessrl.report import tour

runner = CliRunner()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("tour")
    res = runner.invoke(app, ["tour", "--out", str(out), "--quick"])
    assert res.exit_code == 0, res.output
    assert f"report written to {out / 'index.html'}" in " ".join(res.output.split())
    return out, res.output


def test_report_names_every_step(report: tuple[Path, str]) -> None:
    out, _ = report
    page = (out / "index.html").read_text()
    for _, title, _ in tour.STEPS:
        assert title.replace("(", "").split()[0] in page
        assert f">{title}<" in page.replace("&#x27;", "'")


def test_every_step_ran_and_its_figures_exist(report: tuple[Path, str]) -> None:
    out, output = report
    page = (out / "index.html").read_text()
    assert "failed" not in output and "skipped" not in output, output
    for img in re.findall(r'<img src="([^"]+)"', page):
        assert (out / img).stat().st_size > 1000
    assert len(re.findall(r"<img ", page)) >= 8


def test_known_numbers_in_the_report(report: tuple[Path, str]) -> None:
    page = (report[0] / "index.html").read_text()
    # lesson.txt: value iteration sweeps; abandonment expected returns; breakeven 5/113.
    assert "sweep 2: new_request=59.0 evidence_ready=70.0 review_queue=80.0" in page
    assert "request_evidence 30.75, human_review 54.00 -&gt; human_review" in page
    assert f"p(abandon) &gt; {5 / 113:.6f}" in page


def test_a_failing_step_raises_instead_of_being_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(ctx: tour.Context) -> tour.StepOutput:
        import accessrl.no_such_module  # noqa: F401

        raise AssertionError("unreachable")

    steps = [(k, t, missing if k == "gradient" else f) for k, t, f in tour.STEPS if k in ("define", "gradient")]
    monkeypatch.setattr(tour, "STEPS", tuple(steps))
    with pytest.raises(ModuleNotFoundError, match="accessrl.no_such_module"):
        tour.run_tour(tmp_path, quick=True)
    assert not (tmp_path / "index.html").exists()


def test_out_must_be_a_directory(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    res = runner.invoke(app, ["tour", "--out", str(f), "--quick"])
    assert res.exit_code == 2 and "not a directory" in res.output


def test_figures_are_svg_with_the_workflow_tables_and_commands(report: tuple[Path, str]) -> None:
    out, _ = report
    page = (out / "index.html").read_text()
    imgs = re.findall(r'<img src="([^"]+)"', page)
    assert imgs and all(i.endswith(".svg") for i in imgs), imgs
    assert "workflow.svg" in imgs and "workflow_abandonment.svg" in imgs and "learn.svg" in imgs
    assert all((out / i).read_text().lstrip().startswith("<?xml") for i in imgs)
    # At least one reproducing command per step, and a value/policy table with every state.
    assert page.count('class="cmd"') >= len(tour.STEPS)
    assert len(set(re.findall(r'<section id="([^"]+)">(?:(?!</section>).)*class="cmd"', page))) == len(tour.STEPS)
    assert "<th>state</th><th>V</th><th>policy</th>" in page
    for state in ("new_request", "evidence_ready", "review_queue", "closed"):
        assert f"<td>{state}</td>" in page
    # No raw Python reprs: dict or list literals, dataclass reprs.
    text = re.sub(r"<[^>]+>", " ", page).replace("&#x27;", "'")
    assert not re.search(r"\{'|\['|Result\(|\bnp\.|array\(", text), re.findall(r".{20}(?:\{'|\['|Result\().{20}", text)



# Every reproducing command runs and prints what its section shows: tests/report/test_tour_reproduce.py


def test_the_tour_writes_the_studio_pages_and_links_them(report: tuple[Path, str]) -> None:
    pytest.importorskip("jinja2")
    out, _ = report
    assert '<a href="studio/index.html">' in (out / "index.html").read_text()
    for page in ("index.html", "lab/abandonment.html", "lab/held-out.html", "static/studio.js"):
        assert (out / "studio" / page).exists(), page
