import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnmem.cli import main

SMALL = ["--T", "6", "--S", "2", "--K", "3", "--hidden", "8", "--batch", "4", "--steps", "12",
         "--eval-every", "4", "--val-size", "8"]


def rnnmem(*args, cwd=None):
    """Run the installed console command (the real entry point) in a subprocess."""
    exe = Path(sys.executable).with_name("rnnmem")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "rnnmem"]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_train_entry_point_smoke(tmp_path):
    out = tmp_path / "run"
    result = rnnmem("train", *SMALL, "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "completed after 12 steps" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 12
    config = json.loads((out / "config.json").read_text())
    assert config["hidden"] == 8 and config["lr"] == 1e-4
    assert config["model_options"]["clip"] == 1000.0


def test_train_refuses_to_overwrite_a_finished_run(tmp_path, capsys):
    args = ["train", *SMALL, "--out", str(tmp_path), "--quiet"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    assert "already holds a finished run" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0


def test_config_file_and_overrides(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"task": "adding", "T": 5, "hidden": 4, "steps": 3,
                               "eval_every": 3, "val_size": 4, "batch": 2}))
    assert main(["train", "--config", str(cfg), "--hidden", "6", "--out",
                 str(tmp_path / "r"), "--quiet"]) == 0
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["task"] == "adding" and config["hidden"] == 6


def test_lr_search_flag(tmp_path, capsys):
    code = main(["train", *SMALL, "--model", "srnn", "--activation", "relu", "--init",
                 "identity", "--clip", "none", "--lr-search", "--probe-steps", "20",
                 "--out", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "chosen learning rate" in out
    chosen = json.loads((tmp_path / "config.json").read_text())["lr"]
    assert f"lr {chosen:g}: stable" in out
    assert (tmp_path / "lr-search").is_dir()


@pytest.mark.parametrize("args, message", [
    (["train", "--T", "-5"], "T must be a positive integer, got -5"),
    (["train", "--T", "ten"], "argument --T: invalid int value: 'ten'"),
    (["train", "--task", "varcopy", "--T", "5", "--S", "8"], "S <= T"),
    (["train", "--task", "sorting"], "unknown task 'sorting'"),
    (["train", "--model", "gru2"], "unknown model 'gru2'"),
    (["train", "--init", "unitary"], "unknown init 'unitary'"),
    (["train", "--lr", "0"], "lr must be > 0"),
    (["train", "--lr", "nan"], "lr must be a finite number, got nan"),
    (["train", "--gain", "inf"], "gain must be a finite number"),
    (["train", "--convention", "weird"], "convention must be one of"),
    (["train", "--config", "/nonexistent.json"], "does not exist"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["plot", "/nonexistent-run"], "is not a run directory"),
    (["demo", "--steps", "0"], "must be positive"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["train", "--out", "/dev/null/run"], "/dev/null is not a directory"),
    (["demo", "--out", "/dev/null/demo"], "/dev/null is not a directory"),
    (["memory", "curve", "--out", "/dev/null/m"], "/dev/null is not a directory"),
    (["plot", "x", "-o", "/dev/null/c.png"], "/dev/null is not a directory"),
])
def test_bad_input_exits_2_with_one_line(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rnnmem: error: ")
    assert message in err


def test_bad_input_exit_status_through_the_console_command():
    result = rnnmem("train", "--hidden", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == "rnnmem: error: hidden must be a positive integer, got 0"


def test_help_is_complete():
    result = rnnmem("train", "--help")
    assert result.returncode == 0
    for flag in ("--task", "--T", "--convention", "--model", "--init", "--clip", "--lr",
                 "--penalty-lr", "--lr-search", "--stop-ratio", "--seed", "--rmsprop-decay"):
        assert flag in result.stdout


def test_plot_writes_png(tmp_path):
    for init in ("orthogonal", "identity"):
        assert main(["train", *SMALL, "--init", init, "--out", str(tmp_path / init),
                     "--quiet"]) == 0
    png = tmp_path / "curves.png"
    assert main(["plot", str(tmp_path / "orthogonal"), str(tmp_path / "identity"),
                 "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    png.unlink()
    assert main(["plot", str(tmp_path / "identity"), "-o", str(tmp_path)]) == 0  # a directory
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_runs_end_to_end(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--steps", "10", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "| LT-ORNN | orthogonal |" in out and "| LT-IRNN | identity |" in out
    assert (tmp_path / "curves.png").is_file() and (tmp_path / "results.md").is_file()


# ---------------------------------------------------------------- properties of validation

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FIELDS = ("T", "S", "K", "hidden", "batch", "steps", "eval_every", "val_size",
          "penalty_points")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=st.integers(-10**6, 0))
def test_any_non_positive_size_is_rejected(field, value, capsys):
    flag = f"--{field.replace('_', '-')}"
    assert main(["train", flag, str(value)]) == 2
    err = capsys.readouterr().err
    what = "an integer >= 2" if field == "K" else "a positive integer"  # one symbol: no memory
    assert err == f"rnnmem: error: {field} must be {what}, got {value}\n"


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(["--task", "--model", "--init", "--convention", "--placement"]),
       value=st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=1,
                     max_size=12).filter(lambda v: not v.startswith("-")))
def test_any_unknown_choice_is_rejected_in_one_line(option, value, capsys, tmp_path):
    from rnnmem.registry import model_names, model_spec, task_names, valid_inits
    from rnnmem.tasks import ADDING_PLACEMENTS, COPY_CONVENTIONS

    valid = {"--task": task_names(), "--model": model_names(),
             "--init": valid_inits(model_spec("lt-rnn")),
             "--convention": COPY_CONVENTIONS, "--placement": ADDING_PLACEMENTS}[option]
    if value in valid:
        return
    task = ["--task", "adding"] if option == "--placement" else []  # the task that has it
    assert main(["train", *task, option, value, "--steps", "1", "--out",
                 str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnmem: error: ") and err.count("\n") == 1
    assert repr(value) in err


def test_demo_and_reproduce_report_failed_runs_and_exit_1(tmp_path, capsys, monkeypatch):
    import rnnmem.sweep

    def broken(config, run_dir, **_):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(rnnmem.sweep, "train_or_resume", broken)
    assert main(["demo", "--steps", "2", "--workers", "1", "--out", str(tmp_path / "d")]) == 1
    captured = capsys.readouterr()
    assert "| LT-ORNN | orthogonal | 1 | failed |" in captured.out
    assert "2 run(s) failed" in captured.err and "Traceback" not in captured.err
    assert main(["reproduce", "henaff-fig5", "--workers", "1", "--out",
                 str(tmp_path / "r")]) == 1
    captured = capsys.readouterr()
    assert "run(s) failed" in captured.err and "Traceback" not in captured.err
    assert (tmp_path / "r" / "henaff-fig5-quick" / "report.md").is_file()


@pytest.mark.parametrize("args, message", [
    (["train", "--T", "10000000000", "--steps", "1"], "needs about"),
    (["train", "--hidden", "10000000", "--steps", "1"], "more than the"),
    (["train", "--batch", "100000000", "--steps", "1"], "reduce T, hidden, batch"),
    (["construct", "adding", "--d", "99999999999"], "reduce --T, --d"),
    (["memory", "curve", "--N", "3000000"], "reduce --N"),
])
def test_sizes_beyond_memory_are_refused_before_allocating(args, message, tmp_path, capsys):
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "out" / "checkpoint.pt").exists()


def test_unreadable_paths_and_malformed_runs_are_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    (tmp_path / "cdir" / "config.json").mkdir(parents=True)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "metrics.csv").write_text("nonsense\n")
    (bad / "config.json").write_text('{"a":')
    (bad / "model.pt").write_bytes(b"garbage")
    cases = [(["train", "--resume", str(tmp_path / "file")], "Not a directory"),
             (["train", "--resume", str(tmp_path / "cdir")], "config.json is not a regular file"),
             (["plot", str(bad), "-o", str(tmp_path / "p.png")], "metrics.csv is malformed"),
             (["memory", "analyze", str(bad), "--out", str(tmp_path / "a")],
              "config.json is not valid JSON")]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, (args, err)
    assert main(["plot", str(bad), "-o", str(tmp_path / "x.txt")]) == 2
    assert "give a .png file or an existing directory" in capsys.readouterr().err
    (bad / "config.json").write_text('{"task": "copy"}')
    assert main(["memory", "analyze", str(bad), "--out", str(tmp_path / "a")]) == 2
    # weights are read only from a finished run whose summary vouches for them
    assert "no summary.json" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--model", "lt-rnn", "--pool", "4"], "pool is an option of model lt-rnn-pool, not of "
                                           "lt-rnn"),
    (["--model", "lstm", "--clip", "10"], "clip is an option of model lt-rnn, lt-rnn-pool, "
                                          "srnn, irnn, exprnn, nnrnn, not of lstm"),
    (["--model", "lstm", "--lr-orth", "1e-3"], "lr_orth is an option of model exprnn, nnrnn, "
                                               "not of lstm"),
    (["--model", "exprnn", "--gamma-penalty", "0.1"], "gamma_penalty is an option of model "
                                                      "nnrnn, not of exprnn"),
    (["--model", "gru", "--penalty-lr", "0.01"], "penalty_lr is an option of model lt-rnn"),
    (["--model", "urnn", "--input-init", "source"], "input_init is an option of model lt-rnn"),
    (["--task", "adding", "--S", "3"],
     "S is an option of task copy, varcopy, selective-copy, not of adding"),
    (["--model", "lru", "--r_min", "0.5"],  # its own option, with the flag misspelled
     "--r_min is not a flag: model lru's option r_min is given as --r-min"),
    (["--model", "exprnn", "--lr_orth=1e-3"],
     "--lr_orth is not a flag: model exprnn's option lr_orth is given as --lr-orth"),
])
def test_an_option_that_does_not_apply_to_the_model_is_an_error(args, message, tmp_path,
                                                                 capsys):
    assert main(["train", *args, "--steps", "1", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "r").exists()


def test_a_saved_config_json_is_a_valid_config_file_for_every_model(tmp_path, capsys):
    for model in ("lstm", "exprnn", "urnn"):
        run = tmp_path / model
        assert main(["train", "--model", model, "--T", "5", "--hidden", "8", "--steps", "1",
                     "--quiet", "--out", str(run)]) == 0
        assert main(["train", "--config", str(run / "config.json"), "--quiet",
                     "--out", str(tmp_path / f"{model}-again")]) == 0


def test_every_help_shows_its_defaults_and_booleans_are_on_off_flags(capsys, tmp_path):
    for command in (["demo"], ["construct"], ["memory"], ["reproduce"], ["bench"], ["train"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "(default: " in text, command
    # every option that has a value by default says which (0 too), in every command's help
    from rnnmem.cli import build_parser

    def parsers(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    yield from parsers(child)

    silent = [(p.prog, a.dest) for p in parsers(build_parser()) for a in p._actions
              if a.option_strings and a.default is not None and a.default is not False
              and a.default not in (argparse.SUPPRESS, []) and a.nargs != 0
              and "default" not in p.formatter_class(p.prog)._get_help_string(a).lower()]
    assert silent == []
    with pytest.raises(SystemExit):
        main(["train", "--model", "lstm", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--bias, --no-bias" in text and "--readout-bias, --no-readout-bias" in text
    assert "--clip" not in text  # exactly the LSTM's own options
    assert main(["train", "--model", "lstm", "--no-bias", "--T", "5", "--S", "2", "--K",
                 "3", "--hidden", "4", "--steps", "1", "--eval-every", "1", "--val-size", "4",
                 "--quiet", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "final val loss (median of the last 1 evaluations)" in out
    assert json.loads((tmp_path / "r" / "config.json").read_text())["model_options"][
        "bias"] is False


def test_plot_labels_say_what_differs_and_the_title_what_is_shared():
    from rnnmem.config import TrainConfig
    from rnnmem.plot import differing_labels

    a = TrainConfig(task="adding", T=50, lr=1e-3).to_dict()
    b = TrainConfig(task="adding", T=50, lr=1e-4).to_dict()
    labels, title = differing_labels([a, b])
    assert labels == ["lr=0.001", "lr=0.0001"] and title == "adding T = 50, 80 hidden units; lt-rnn"
    c = TrainConfig(task="copy", model="lstm").to_dict()  # another task and model
    labels, title = differing_labels([a, c])
    assert labels[0].startswith("task=adding, model=lt-rnn") and "clip" not in labels[0]
    assert title == "runs of different tasks"


def test_coinciding_curves_are_drawn_apart_and_named_in_the_legend(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from rnnmem.plot import _draw_groups, coinciding

    steps = [0, 10, 20]
    assert coinciding({"a": (steps, np.array([1.0, 0.5, 0.2])),
                       "b": (steps, np.array([1.0, 0.502, 0.2])),  # within 1 %
                       "c": (steps, np.array([1.0, 0.6, 0.2]))}) == {"b": "a"}

    def run(values):
        rows = [dict(step=s, val_ratio=v) for s, v in zip(steps, values, strict=True)]
        return dict(path=tmp_path, config=dict(task="copy", model="lt-rnn", seed=0),
                    summary=None, rows=rows)

    fig, ax = plt.subplots()
    _draw_groups(ax, {"LSTM": [run([1, 1, 1])], "minGRU": [run([1, 1, 1])],
                      "LT-ORNN": [run([1, 0.5, 0.1])]}, "val_ratio")
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert "minGRU [on LSTM]" in lines and "LSTM" in lines and "LT-ORNN" in lines
    styles = {(line.get_linestyle(), line.get_marker()) for label, line in lines.items()
              if label != "chance baseline"}
    assert len(styles) == 3  # every series its own line style and marker
    legend = ax.get_legend()
    assert legend.get_bbox_to_anchor().y0 < ax.get_window_extent().y0  # below the axes
    plt.close(fig)


def test_a_log_axis_under_a_decade_gets_plain_labels():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnnmem.plot import readable_log_ticks

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0.4, 1.8])
    ax.set_yscale("log")
    readable_log_ticks(ax)
    fig.canvas.draw()
    shown = [t.get_text() for t in ax.get_yticklabels() if t.get_text()
             and ax.get_ylim()[0] <= t.get_position()[1] <= ax.get_ylim()[1]]
    plt.close(fig)
    assert {"0.5", "1", "2"} <= set(shown) or {"0.5", "1"} <= set(shown), shown
