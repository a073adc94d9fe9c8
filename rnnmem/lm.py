"""Language models on Penn Treebank with truncated back-propagation through time.

``LanguageModel``: embedding → ``layers`` recurrent layers (rnnmem's own sRNN / LT-RNN / LSTM
with any of their initializers: identity, orthogonal, chain, feedback chain; plain, orthogonal,
chain, mixed for the LSTM) → linear decoder. ``train(config, run_dir)`` trains it (this
module's :data:`LANGUAGE_MODEL`, the language-model kind of task) on contiguous batches: the
training stream is cut into ``batch`` parallel streams, each step takes the next ``bptt``
tokens of every stream, and the hidden state is carried across steps (detached), as in Orhan &
Pitkow's §2.3.2 (after awd-lstm-lm; no dropout or weight averaging here).

Losses are nats per token; the metric is perplexity (word level) or bits per character.
The chance baseline is the entropy of the training tokens' unigram distribution.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .build import layer_options, make_task
from .data.ptb import PTBCorpus
from .device import run_arithmetic
from .footprint import require_lm
from .loop import TaskKind, make_optimizer
from .nn.model import build_layer
from .nn.protocol import forward_state
from .tasks.ptb import EVAL_STREAMS


class LanguageModel(nn.Module):
    """Embedding → recurrent layers → decoder. ``forward(tokens (T, B), state)``."""

    def __init__(self, vocab: int, config, generator: torch.Generator | None = None):
        super().__init__()
        options = config.task_options
        emb = options["embedding"] or config.hidden
        self.embed = nn.Embedding(vocab, emb)
        layers = []
        for i in range(options["layers"]):
            n_in = emb if i == 0 else config.hidden
            layers.append(build_layer(config.model, n_in, config.hidden, generator=generator,
                                      **layer_options(config)))
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
            x, s = forward_state(layer, x, s)
            new_state.append(s)
        return self.decoder(x), new_state


def detach_state(state: list) -> list:
    return [tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach() for s in state]


def batchify(ids: torch.Tensor, streams: int) -> torch.Tensor:
    """(N,) → (N // streams, streams): ``streams`` contiguous parallel pieces of the text."""
    n = ids.numel() // streams
    return ids[: n * streams].view(streams, n).t().contiguous()


class LMWorkload:
    """A PTB corpus as :func:`~rnnmem.loop.train_loop` runs it: truncated BPTT along ``batch``
    parallel streams with the state carried across windows (a fresh state each epoch), the
    validation and test splits read whole."""

    generators: dict = {}  # the data are read in order; nothing random to carry

    def __init__(self, corpus: PTBCorpus, config, device: torch.device | str = "cpu"):
        self.corpus, self.bptt = corpus, config.task_options["bptt"]
        self.device = torch.device(device)
        self.stream = batchify(corpus.ids["train"], config.batch).to(self.device)  # (N, B)
        self.val_ids = corpus.ids["valid"][: config.task_options["val_tokens"]].to(self.device)
        self.position, self.state = 0, None

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

    def batch_loss(self, model) -> torch.Tensor:
        if self.position >= self.stream.shape[0] - 1:  # a new epoch starts from a fresh state
            self.position, self.state = 0, None
        n = min(self.bptt, self.stream.shape[0] - 1 - self.position)
        x = self.stream[self.position:self.position + n]
        y = self.stream[self.position + 1:self.position + 1 + n]
        self.position += n
        logits, new_state = model(x, self.state)
        self.state = detach_state(new_state)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    def evaluate(self, model) -> tuple[float, float]:
        loss = evaluate_stream(model, self.val_ids, self.bptt)
        return loss, self.metric(loss)

    def test(self, model) -> dict:
        loss = evaluate_stream(model, self.corpus.ids["test"].to(self.device), self.bptt)
        return dict(test_loss=loss, test_metric=self.metric(loss))

    def extra(self) -> dict:
        carried = [list(s) if isinstance(s, tuple) else [s] for s in (self.state or [])]
        return dict(position=self.position, state=carried)

    def load_extra(self, extra: dict) -> None:
        self.position = extra["position"]
        state = [[t.to(self.device) for t in s] for s in extra["state"]]  # read on the CPU
        self.state = [tuple(s) if len(s) == 2 else s[0] for s in state] or None


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


def lm_seconds(config, probe_steps: int = 3) -> tuple[float, float, dict]:
    """(seconds of one training step, seconds per evaluated token, tokens per split) of a
    language model, on one thread; raises :class:`~rnnmem.data.DataError` if its corpus is
    not installed."""
    with run_arithmetic(1):
        corpus = make_task(config)
        model = LanguageModel(len(corpus.vocab), config, torch.Generator().manual_seed(0))
        workload, optimizer = LMWorkload(corpus, config), make_optimizer(config, model)
        for i in range(probe_steps + 1):
            if i == 1:
                start = time.perf_counter()
            loss = workload.batch_loss(model)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        step = (time.perf_counter() - start) / probe_steps
        bptt = config.task_options["bptt"]
        tokens = corpus.ids["valid"][: 4 * bptt * EVAL_STREAMS + 1]
        start = time.perf_counter()
        evaluate_stream(model, tokens, bptt)
        per_token = (time.perf_counter() - start) / (tokens.numel() - 1)
        return step, per_token, {split: ids.numel() for split, ids in corpus.ids.items()}


@dataclass(frozen=True)
class LMRunCost:
    """A language model's run time: its steps, and each evaluation reading its validation
    slice whole, the test split once at the end."""

    step: float
    per_token: float
    splits: dict

    def seconds(self, config) -> float:
        evaluations = math.ceil(config.steps / config.eval_every) + 1
        val = min(config.task_options["val_tokens"] or math.inf, self.splits["valid"])
        return self.step * config.steps + self.per_token * (evaluations * val +
                                                            self.splits["test"])


LANGUAGE_MODEL = TaskKind(
    network=lambda config, corpus, generator: LanguageModel(len(corpus.vocab), config,
                                                            generator),
    workload=LMWorkload,
    require=lambda config, corpus: require_lm(config, len(corpus.vocab),
                                              len(corpus.ids["train"])),
    probe=lambda config: LMRunCost(*lm_seconds(config)))
