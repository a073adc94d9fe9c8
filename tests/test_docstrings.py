"""Every example in a docstring runs and prints what it says (#46: examples nothing ran had
drifted from the code)."""

import doctest
import importlib

import pytest
import torch
from test_layers import ROOT, modules

WITH_EXAMPLES = sorted(name for name, path in modules().items() if ">>>" in path.read_text())


def test_the_examples_are_found():
    assert {"rnnmem.config", "rnnmem.nn.ltrnn", "rnnmem.memory"} <= set(WITH_EXAMPLES)
    assert ROOT.name == "rnnmem"


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples_run(name):
    torch.manual_seed(0)
    result = doctest.testmod(importlib.import_module(name), extraglobs={"torch": torch},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, f"{name}: {result}"
