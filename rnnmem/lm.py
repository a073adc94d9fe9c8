"""Language models on Penn Treebank with truncated back-propagation through time.

``LanguageModel``: embedding → ``layers`` recurrent layers (rnnmem's own sRNN / LT-RNN / LSTM
with any of their initializers: identity, orthogonal, chain, feedback chain; plain, orthogonal,
chain, mixed for the LSTM) → linear decoder. ``train_lm(config, run_dir)`` trains it on contiguous
batches: the training stream is cut into ``batch`` parallel streams, each step takes the next
``bptt`` tokens of every stream, and the hidden state is carried across steps (detached), as in
Orhan & Pitkow's §2.3.2 (after awd-lstm-lm; no dropout or weight averaging here).

Losses are nats per token; the metric is perplexity (word level) or bits per character.
The chance baseline is the entropy of the training tokens' unigram distribution.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import restore, save_checkpoint
from .config import layer_knobs
from .data.ptb import PTBCorpus
from .io import write_text_atomic
from .loop import (
    finish,
    make_optimizer,
    metrics_csv,
    open_run,
    progress_bar,
    run_steps,
    stop_reason,
)
from .nn.model import build_layer
from .rundir import CHECKPOINT, METRICS

EVAL_STREAMS = 10


class LanguageModel(nn.Module):
    """Embedding → recurrent layers → decoder. ``forward(tokens (T, B), state)``."""

    def __init__(self, vocab: int, config, generator: torch.Generator | None = None):
        super().__init__()
        emb = config.embedding or config.hidden
        self.embed = nn.Embedding(vocab, emb)
        layers = []
        for i in range(config.layers):
            n_in = emb if i == 0 else config.hidden
            layers.append(build_layer(config.model, n_in, config.hidden, generator=generator,
                                      **layer_knobs(config)))
        self.layers = nn.ModuleList(layers)
        self.decoder = nn.Linear(config.hidden, vocab)
        with torch.no_grad():
            self.embed.weight.normal_(0, 0.1, generator=generator)
            self.decoder.weight.normal_(0, 1 / math.sqrt(config.hidden), generator=generator)
            self.decoder.bias.zero_()

    def forward(self, tokens: torch.Tensor, state: list | None = None):
        x = self.embed(tokens)  # (T, B, E)
        state = state or [None] * len(self.layers)
        new_state = []
        for layer, s in zip(self.layers, state, strict=True):
            x, s = layer.forward_state(x, s)
            new_state.append(s)
        return self.decoder(x), new_state


def detach_state(state: list) -> list:
    return [tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach() for s in state]


def batchify(ids: torch.Tensor, streams: int) -> torch.Tensor:
    """(N,) → (N // streams, streams): ``streams`` contiguous parallel pieces of the text."""
    n = ids.numel() // streams
    return ids[: n * streams].view(streams, n).t().contiguous()


@dataclass
class LMTask:
    """The pieces of an LM run that the generic bookkeeping (finish, record) needs."""

    corpus: PTBCorpus

    @property
    def metric_name(self) -> str:
        return "perplexity" if self.corpus.level == "word" else "bits per character"

    def metric(self, loss: float) -> float:
        if self.corpus.level == "char":
            return loss / math.log(2)
        return math.exp(loss) if loss < 700 else math.inf  # exp overflows a float past ~709

    def baseline(self) -> float:
        """Unigram entropy of the training tokens (nats): the best input-independent loss."""
        counts = torch.bincount(self.corpus.ids["train"], minlength=len(self.corpus.vocab))
        p = counts[counts > 0].double() / counts.sum()
        return float(-(p * p.log()).sum())

    def solved(self, loss: float):
        return None  # language modelling has no "solved"


@torch.no_grad()
def evaluate_stream(model: LanguageModel, ids: torch.Tensor, bptt: int) -> float:
    """Mean cross-entropy (nats per token) over a whole split, state carried across chunks."""
    model.eval()
    data = batchify(ids, EVAL_STREAMS)
    state, total, count = None, 0.0, 0
    for i in range(0, data.shape[0] - 1, bptt):
        n = min(bptt, data.shape[0] - 1 - i)
        logits, state = model(data[i:i + n], state)
        target = data[i + 1:i + 1 + n]
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                 reduction="sum").item()
        count += target.numel()
    model.train()
    return total / count


def train_lm(config, run_dir: str | Path, *, progress: bool = False,
             resume: bool = False) -> dict:
    """Train a language model on ``ptb-word`` or ``ptb-char``; same run directory as train()."""
    corpus = PTBCorpus("word" if config.task == "ptb-word" else "char", data_dir=config.data_dir)
    task = LMTask(corpus)
    run_dir = Path(run_dir)
    checkpoint_path = run_dir / CHECKPOINT
    saved = open_run(config, run_dir, resume)
    baseline = task.baseline()
    model = LanguageModel(len(corpus.vocab), config, torch.Generator().manual_seed(config.seed))
    optimizer = make_optimizer(config, model)
    stream = batchify(corpus.ids["train"], config.batch)  # (N, B)
    val_ids = corpus.ids["valid"][: config.val_tokens]

    rows, train_losses, window, first_step, position, state = [], [], [], 1, 0, None
    if saved is not None:
        restore(saved, model=model, optimizer=optimizer, generators={})
        rows, train_losses = list(saved["rows"]), saved["train_losses"].tolist()
        first_step, position = saved["step"] + 1, saved["extra"]["position"]
        state = [tuple(s) if len(s) == 2 else s[0] for s in saved["extra"]["state"]] or None
    status, diverged_at = "completed", None
    if saved is not None and (stopped := stop_reason(rows, config, baseline)):
        status, first_step = stopped, config.steps + 1
        diverged_at = rows[-1]["step"] if stopped == "diverged" else None
    start = time.perf_counter() - (saved["elapsed"] if saved is not None else 0.0)
    bar = progress_bar(config.steps, progress, initial=first_step - 1)

    def record(step: int) -> list[dict]:
        val_loss = evaluate_stream(model, val_ids, config.bptt)
        train_loss = sum(window) / len(window) if window else val_loss
        window.clear()
        rows.append(dict(step=step, seconds=time.perf_counter() - start, train_loss=train_loss,
                         val_loss=val_loss, val_ratio=val_loss / baseline,
                         val_metric=task.metric(val_loss)))
        write_text_atomic(run_dir / METRICS, metrics_csv(rows))
        carried = [list(s) if isinstance(s, tuple) else [s] for s in (state or [])]
        save_checkpoint(checkpoint_path, config=config.to_dict(), model=model,
                        optimizer=optimizer, generators={}, step=step, rows=rows,
                        train_losses=train_losses, elapsed=time.perf_counter() - start,
                        extra=dict(position=position, state=carried))
        if bar is not None:
            bar.set_postfix_str(f"val {task.metric_name}={task.metric(val_loss):.3f}")
        return rows

    if saved is None:
        record(0)
    def batch_loss() -> torch.Tensor:
        nonlocal position, state
        if position >= stream.shape[0] - 1:  # a new epoch starts from a fresh state
            position, state = 0, None
        n = min(config.bptt, stream.shape[0] - 1 - position)
        x, y = stream[position:position + n], stream[position + 1:position + 1 + n]
        position += n
        logits, new_state = model(x, state)
        state = detach_state(new_state)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    if status == "completed":
        status, diverged_at = run_steps(config, model, optimizer, first_step, batch_loss,
                                        record, baseline, train_losses, window, bar)
    if bar is not None:
        bar.close()
    test = {}
    if status != "diverged":
        test_loss = evaluate_stream(model, corpus.ids["test"], config.bptt)
        test = dict(test_loss=test_loss, test_metric=task.metric(test_loss))
    return finish(run_dir, model, task, rows, train_losses, status, diverged_at,
                   time.perf_counter() - start, test, config.final_evals)
