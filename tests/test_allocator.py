"""The command keeps freed memory for the next step (rnnmem.allocator): set by the CLI, effective,
inherited by spawned workers, and never where the user chose otherwise."""

import os
import platform
import subprocess
import sys

import pytest

from rnnmem.allocator import OPT_OUT, VARIABLES, keep_freed_memory

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")

# page faults per 48 MB tensor (above glibc's largest automatic mmap threshold, 32 MiB) before
# and after the command starts: freed and allocated again, it is faulted in each time before
PROBE = """
import os, resource, torch
from rnnmem.cli import main

def faults_per_tensor(rounds):
    size = (48 << 20) // 4
    for _ in range(rounds):  # the heap settles first
        x = torch.ones(size); del x
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds):
        x = torch.ones(size); del x
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / rounds

before = faults_per_tensor(5)
try:
    main(["--version"])
except SystemExit:
    pass
print(before, faults_per_tensor(20), os.environ.get("MALLOC_MMAP_THRESHOLD_"))
"""


@glibc
def test_the_command_keeps_freed_memory_for_itself_and_its_workers():
    env = {k: v for k, v in os.environ.items() if k not in (*VARIABLES, OPT_OUT)}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env={**env, "OMP_NUM_THREADS": "1"}, check=True)
    before, after, inherited = done.stdout.split()[-3:]
    pages = (48 << 20) // os.sysconf("SC_PAGE_SIZE")
    assert float(before) > pages / 2  # the premise: mapped fresh each time
    assert float(after) < pages / 20
    assert inherited == str(1 << 30)  # what a spawned sweep worker's glibc reads at its start


@pytest.mark.parametrize("setting", [{"MALLOC_TRIM_THRESHOLD_": "131072"}, {OPT_OUT: "0"}])
def test_a_choice_in_the_environment_stands(monkeypatch, setting):
    for name in (*VARIABLES, OPT_OUT):
        monkeypatch.delenv(name, raising=False)
    for name, value in setting.items():
        monkeypatch.setenv(name, value)
    assert keep_freed_memory() is False
    assert {k: os.environ.get(k) for k in (*VARIABLES, OPT_OUT)} == \
        {k: setting.get(k) for k in (*VARIABLES, OPT_OUT)}
