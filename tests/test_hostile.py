"""Hostile input of every kind: exit status 2, one line on stderr, no traceback, nothing run."""

import os

import pytest

from rnnmem.cli import main


def _files(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    zero_run = tmp_path / "zero-run"
    zero_run.mkdir()
    (zero_run / "config.json").symlink_to("/dev/zero")
    return dict(deep=deep, fifo=fifo, zero_run=zero_run)


CASES = {
    "one symbol (chance loss 0)": (["train", "--K", "1"], "K must be an integer >= 2"),
    "variable copy with one symbol": (["train", "--task", "varcopy", "--K", "1", "--S", "1",
                                       "--T", "1"], "K must be an integer >= 2"),
    "too few validation tokens": (["train", "--task", "ptb-char", "--val-tokens", "5"],
                                  "val_tokens must be at least 20"),
    "penalty points beyond memory": (["train", "--ortho-points", "100000000000",
                                      "--ortho-lr", "0.1"], "ortho_points"),
    "a language model beyond memory": (["train", "--task", "ptb-char", "--hidden", "200000"],
                                       "this language model needs about"),
    "more streams than tokens": (["train", "--task", "ptb-char", "--batch", "10000000"],
                                 "parallel streams"),
    "threads": (["train", "--threads", "100000"], "threads must be at most"),
    "a device as the config": (["train", "--config", "/dev/zero"], "not a regular file"),
    "a FIFO as the config": (["train", "--config", "{fifo}"], "not a regular file"),
    "a config nested 100,000 deep": (["train", "--config", "{deep}"], "nested too deeply"),
    "a run whose config.json is /dev/zero": (["train", "--resume", "{zero_run}"],
                                             "not a regular file"),
    "a negative demo seed": (["demo", "--seed", "-1"], "--seed: seed must be in"),
    "a huge demo seed": (["demo", "--seed", "99999999999999999999999"], "--seed: seed must"),
    "an empty output path": (["train", "--out", ""], "an empty path"),
    "a line break in an output path": (["train", "--out", "a\nb"], "line break"),
    "an unstable network's stationary memory": (["memory", "curve", "--lam", "1.5", "--N",
                                                 "10"], "does not exist"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_is_one_line_and_exit_2(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = _files(tmp_path)
    argv, message = CASES[name]
    argv = [a.format(**files) for a in argv]
    if argv[0] == "train" and "--resume" not in argv and "--out" not in argv:
        argv += ["--steps", "1", "--out", str(tmp_path / "run")]
    if argv[0] in ("demo", "memory"):
        argv += ["--out", str(tmp_path / "out")]
    assert main(argv) == 2, name
    err = capsys.readouterr().err
    assert err.startswith("rnnmem: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and message in err, err
    assert not (tmp_path / "run" / "summary.json").exists()
