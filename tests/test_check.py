"""``rnnmem report --check``: the committed results are recomputed from their run files, and a
changed number anywhere is caught."""

import json
import shutil
from pathlib import Path

import pytest
from test_reproduce import tiny_experiment

from rnnmem.cli import main
from rnnmem.experiments.check import check_reports
from rnnmem.experiments.reproduce import reproduce
from rnnmem.registry import Experiment, experiments

RESULTS = Path(__file__).parent.parent / "docs" / "results" / "reproduce"


def test_every_committed_report_with_runs_is_what_its_runs_give():
    # the computed ones: the test below; the memory columns' recomputation: test_horizon.py
    result = check_reports(RESULTS, compute=False)
    assert result.ok, result.problems
    assert {"henaff-fig2-paper", "orhan-fig3-paper"} <= set(result.backed)  # their runs: committed
    assert "orhan-table2-paper" in result.unbacked  # an analysis of uncommitted weights
    # each committed report says whether its table is backed, as the check finds it (one check:
    # it is the suite's slowest test)
    for report in sorted(RESULTS.glob("*/report.md")):
        text, name = report.read_text(), report.parent.name
        said = [s for s in ("Backed by the files of its", "Not backed by committed run files",
                            "No training runs of its own", "Computed from the trained weights")
                if s in text]
        assert len(said) == 1, (name, said)
        assert (said[0] == "Backed by the files of its") == (name in result.backed), name


def test_a_computed_report_is_computed_again_and_a_change_is_caught(tmp_path):
    """#40 item 6: a construction's and the linear theory's reports (no runs) are recomputed
    by report --check; the quick ones here (seconds), every one by the command."""
    import shutil

    from rnnmem.experiments.check import _check_computed

    for name in ("henaff-fig1", "orhan-fig1"):
        assert experiments()[name].computed
        assert _check_computed(experiments()[name], "quick", RESULTS / f"{name}-quick") is None
    changed = tmp_path / "orhan-fig1-quick"
    shutil.copytree(RESULTS / "orhan-fig1-quick", changed)
    table = changed / "table.md"
    table.write_text(table.read_text().replace("7.6060", "7.6061"))
    assert "differs from the table computed again" in _check_computed(
        experiments()["orhan-fig1"], "quick", changed)
    assert not experiments()["orhan-table2"].computed  # it reads trained weights


@pytest.fixture
def backed(monkeypatch, tmp_path):
    monkeypatch.setitem(experiments(), "tiny", Experiment("tiny", "Test", "Fig. 0", "nothing",
                                                          jobs=tiny_experiment))
    reproduce("tiny", out=tmp_path, workers=1, progress=lambda *_: None)
    for path in tmp_path.rglob("*.pt"):  # as committed: no weights, no checkpoints
        path.unlink()
    return tmp_path / "tiny-quick"


def test_a_backed_report_checks_and_any_change_is_caught(backed, capsys):
    assert main(["report", "--check", str(backed.parent)]) == 0
    out, err = capsys.readouterr()
    assert "1 reports recomputed from their committed runs" in out and ": tiny-quick\n" in out
    assert err.startswith("checking [1/1] tiny-quick")  # progress first, on stderr
    run = next(backed.glob("runs/*/*/seed0"))
    for name, change in (("table.md", lambda t: t.replace("| 2 |", "| 3 |", 1)),
                         ("metrics.csv", lambda t: t[:-3] + "9\n"),
                         ("summary.json", lambda t: t.replace('"steps": 12', '"steps": 11'))):
        path = (backed if name == "table.md" else run) / name
        saved = path.read_text()
        path.write_text(change(saved))
        assert main(["report", "--check", str(backed.parent)]) == 1, name
        assert "problem:" in capsys.readouterr().out
        path.write_text(saved)
    assert main(["report", "--check", str(backed.parent)]) == 0


def test_a_summary_that_is_not_the_median_of_its_curve_is_caught(backed):
    from rnnmem.rundir import RunDir, _canonical, _digest

    run = next(backed.glob("runs/*/*/seed1"))
    summary = json.loads((run / "summary.json").read_text())
    summary["final_val_ratio"] *= 0.5  # a better number than the curve says, checksummed anew
    body = {k: v for k, v in summary.items() if k != "integrity"}
    summary["integrity"]["summary"] = _digest(_canonical(body))
    (run / "summary.json").write_text(json.dumps(summary))
    assert RunDir(run).verify(weights=False)  # the checksums alone would pass it
    result = check_reports(backed.parent)
    assert any("is not the median of the last" in p for p in result.problems)


def test_reports_without_runs_are_listed_as_not_checked(backed, tmp_path):
    shutil.rmtree(backed / "runs")
    result = check_reports(backed.parent)
    assert result.ok and result.unbacked == ["tiny-quick"] and not result.backed


def test_a_reproduced_report_says_its_table_is_backed(backed):
    assert "Backed by the files of its" in (backed / "report.md").read_text()


def test_redraw_draws_a_backed_reports_figure_from_its_files_alone(backed, capsys):
    figure = backed / "figure.png"
    drawn = figure.read_bytes()  # by reproduce, with the weights there
    figure.unlink()
    assert main(["report", "--redraw", str(backed.parent)]) == 0
    assert "redrew 1 figures" in capsys.readouterr().out
    assert figure.read_bytes() == drawn  # the same figure, from the committed files alone
    assert not list(backed.rglob("*.pt"))  # nothing was trained
    assert main(["report", "--redraw", "--check", str(backed.parent)]) == 2


def test_redraw_leaves_a_grid_with_unfinished_runs_alone(backed, capsys):
    figure = backed / "figure.png"
    drawn = figure.read_bytes()
    next(backed.rglob("summary.json")).unlink()  # one run still training
    assert main(["report", "--redraw", str(backed.parent)]) == 0
    said = capsys.readouterr()
    assert "not redrawing tiny-quick: 1 of" in said.err and "redrew 0 figures" in said.out
    assert figure.read_bytes() == drawn
