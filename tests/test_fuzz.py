"""Hostile input, generated: every command line and config file ends in exit 0, 1 or 2 with at
most one line on stderr, never a traceback (an exception escaping ``main`` fails the test)."""

import dataclasses
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnmem.cli import main
from rnnmem.config import TrainConfig

FIELDS = [f.name for f in dataclasses.fields(TrainConfig) if f.name != "data_dir"]
ODD_TEXT = ["", "0", "-1", "1.5", "nan", "inf", "-inf", "1e309", "1e-320", "abc", "true",
            "none", "null", "99999999999999999999", "18446744073709551615", "2", "7", "0x10",
            "é", "../x", "--steps"]
ODD_JSON = [None, True, False, 0, -1, 1.5, 2, 10**30, "", "x", "1e-3", [], [1], {},
            {"a": 1}, float("inf")]
# a tiny, fast base: whatever the odd value leaves valid trains for 2 steps in milliseconds
BASE = ["--T", "6", "--S", "2", "--K", "3", "--hidden", "4", "--batch", "4", "--steps", "2",
        "--eval-every", "1", "--val-size", "4", "--quiet", "--overwrite"]
# derandomized: CI runs the same examples every time (a new bad input is found by running
# with --hypothesis-seed, then fixed and kept as a regression)
SETTINGS = dict(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _exits_cleanly(args, capsys):
    code = main(args)
    err = capsys.readouterr().err
    assert code in (0, 1, 2), (args, code)
    assert err.count("\n") <= 1 and "Traceback" not in err, (args, err)
    if code == 2:
        assert err.startswith("rnnmem: error: "), (args, err)


@settings(**SETTINGS)
@given(field=st.sampled_from(FIELDS), value=st.sampled_from(ODD_TEXT))
def test_any_flag_with_an_odd_value(field, value, tmp_path, capsys):
    flag = f"--{field.replace('_', '-')}"
    _exits_cleanly(["train", *BASE, flag, value, "--out", str(tmp_path / "run")], capsys)


@settings(**SETTINGS)
@given(values=st.dictionaries(st.sampled_from(FIELDS + ["nonsense"]), st.sampled_from(ODD_JSON),
                              min_size=1, max_size=3))
def test_any_config_file_with_odd_values(values, tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    _exits_cleanly(["train", "--config", str(path), *BASE, "--out", str(tmp_path / "run")],
                   capsys)


@settings(**SETTINGS)
@given(raw=st.binary(max_size=40))
def test_any_bytes_as_a_config_file(raw, tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_bytes(raw)
    _exits_cleanly(["train", "--config", str(path), *BASE, "--out", str(tmp_path / "run")],
                   capsys)


@settings(**SETTINGS)
@given(which=st.sampled_from(["curve", "toy"]),
       flag=st.sampled_from(["--N", "--lam", "--alpha", "--beta", "--noise", "--k-max",
                             "--length", "--seed"]),
       value=st.sampled_from(ODD_TEXT))
def test_memory_tools_with_an_odd_value(which, flag, value, tmp_path, capsys):
    small = ["--N", "8", "--k-max", "5", "--length", "6"]
    _exits_cleanly(["memory", which, *small, flag, value, "--out", str(tmp_path / "m")], capsys)


@settings(**{**SETTINGS, "max_examples": 30})
@given(which=st.sampled_from(["copy", "adding"]),
       flag=st.sampled_from(["--T", "--d", "--trials", "--seed", "--K", "--S"]),
       value=st.sampled_from(ODD_TEXT))
def test_constructions_with_an_odd_value(which, flag, value, tmp_path, capsys):
    small = ["--T", "20", "--trials", "2", "--K", "4", "--S", "2"]
    _exits_cleanly(["construct", which, *small, flag, value, "--out", str(tmp_path / "c")],
                   capsys)
