"""Long commands say what they are doing: at once, as plain lines in a log, a bar on a terminal."""

import fcntl
import os
import pty
import struct
import subprocess
import termios

from test_reliability import command

TINY = ["--T", "5", "--S", "2", "--K", "3", "--hidden", "8", "--steps", "40", "--eval-every",
        "10", "--val-size", "8"]


def test_train_writes_plain_lines_into_a_log(tmp_path):
    done = subprocess.run(command("train", *TINY, "--out", str(tmp_path / "r")),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "\r" not in done.stderr  # a log, not a terminal: no carriage-return bar
    assert [line.split(" (")[0] for line in lines[:5]] == [f"step {s}/40" for s in (0, 10, 20,
                                                                                    30, 40)]
    # 5 evaluations whose median is the final figure: "solved" reads most of the run
    assert lines[5:] == [] or (len(lines) == 6 and "rnnmem: warning: the final figure" in
                               lines[5])


def test_train_draws_a_bar_on_a_terminal(tmp_path):
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(command("train", *TINY, "--out", str(tmp_path / "r")),
                            stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        output += chunk
    assert proc.wait(timeout=120) == 0
    assert b"\r" in output and b"step" in output  # tqdm's bar


def test_construct_and_demo_say_what_they_do_before_they_finish(tmp_path):
    done = subprocess.run(command("construct", "copy", "--trials", "4", "--K", "2,4", "--S",
                                  "1,5", "--out", str(tmp_path / "c")),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("construct copy: T = 500") and "success grid" in lines[0]
    assert "success grid: K = 4 (2/2)" in done.stdout and "construct copy: done in" in done.stdout
    demo = subprocess.run(command("demo", "--steps", "10", "--out", str(tmp_path / "d")),
                          capture_output=True, text=True)
    assert demo.returncode == 0, demo.stderr
    first = demo.stdout.splitlines()[0]
    assert first.startswith("training LT-ORNN and LT-IRNN on copy T=100")
    assert "[1/2]" in demo.stdout and "[2/2]" in demo.stdout


def test_a_sweeps_heartbeat_is_one_live_line_on_a_terminal_and_lines_in_a_log(monkeypatch):
    import io
    import sys

    from rnnmem.experiments.estimate import Lines

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    say = Lines()
    say("start")
    say.beat("  ... [0/2] done; training a step 5/10")
    say.beat("  ... [0/2] done; training a step 9/10")
    say("  [1/2] a: completed")
    assert screen.getvalue() == ("start\n\r\x1b[K... [0/2] done; training a step 5/10"
                                 "\r\x1b[K... [0/2] done; training a step 9/10"
                                 "\r\x1b[K  [1/2] a: completed\n")
    log = []
    said = Lines(log.append)  # not a terminal (a log, a test): every heartbeat its own line
    said.beat("  ... beat")
    said("  [1/1] done")
    assert log == ["  ... beat", "  [1/1] done"]
