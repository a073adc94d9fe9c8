"""The README's example output is what the main job prints on a fresh run."""

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"
TOLERANCE = 0.02  # stated in the README: another CPU may sum in another order


def _table(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("| ")]


def test_the_readme_table_is_a_fresh_run_of_the_main_job(tmp_path):
    from rnnmem.experiments.demo import run_demo

    block = re.search(r"What the main job prints.*?```\n(.*?)```", README.read_text(), re.S)
    assert block, "the README lost its example output"
    shown = _table(block.group(1))
    report, failed = run_demo(tmp_path, steps=3000, seeds=1, seed=0, workers=2)
    fresh = _table(report.split("\n\n")[0])
    assert failed == 0 and shown[0] == fresh[0]  # the same columns
    assert len(shown) == len(fresh)
    for mine, theirs in zip(shown[1:], fresh[1:], strict=True):
        assert mine[:3] == theirs[:3] and mine[5] == theirs[5], (mine, theirs)  # model..solved
        for a, b in zip(mine[3:5], theirs[3:5], strict=True):
            assert float(a) == pytest.approx(float(b), abs=TOLERANCE), (mine, theirs)
