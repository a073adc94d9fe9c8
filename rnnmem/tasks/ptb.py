"""Penn Treebank language modelling, word and character level (the tasks ``ptb-word`` and
``ptb-char``, trained by :mod:`rnnmem.lm`); the text, its sources and checks:
:mod:`rnnmem.data.ptb`."""

from __future__ import annotations

from ..data.ptb import PTBCorpus
from ..registry import register_task

# how many streams a language model's validation and test text is cut into (lm.evaluate)
EVAL_STREAMS = 10


def _corpus(level: str):
    def corpus(data_dir: str | None = None, bptt: int = 35, layers: int = 1,
               embedding: int | None = None, val_tokens: int | None = None) -> PTBCorpus:
        """The corpus; the other options shape the language model trained on it (rnnmem.lm)."""
        return PTBCorpus(level, data_dir=data_dir)
    corpus.__name__ = corpus.__qualname__ = f"ptb_{level}"
    return corpus


def _check(data_dir: str | None = None, bptt: int = 35, layers: int = 1,
           embedding: int | None = None, val_tokens: int | None = None) -> None:
    for name, value in (("bptt", bptt), ("layers", layers), ("embedding", embedding),
                        ("val_tokens", val_tokens)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if val_tokens is not None and val_tokens < 2 * EVAL_STREAMS:
        raise ValueError(f"val_tokens must be at least {2 * EVAL_STREAMS} (two tokens on each "
                         f"of the {EVAL_STREAMS} evaluation streams), got {val_tokens}")


_HELP = dict(data_dir="directory of ptb.{train,valid,test}.txt (default: the treebank package)",
             bptt="truncated back-propagation length", layers="stacked recurrent layers",
             embedding="embedding size (default: hidden)",
             val_tokens="validation tokens per evaluation (default: all)")
for _level in ("word", "char"):
    register_task(f"ptb-{_level}", _corpus(_level), kind="language-model", check=_check,
                  help=_HELP, _builtin=True)
