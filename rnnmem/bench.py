"""``rnnmem bench``: speed of the recurrent layers at the papers' sizes.

For each size and layer: forward + backward milliseconds (the least of ``repeats`` rounds that
time every layer of a size in turns), the achieved
GFLOP/s, and the fraction of a roofline measured in the same run. A layer whose step is a
matrix product has the "GEMM roofline": the time of the step's matrix products alone, at the
step's shapes, with no other work (for the scan kernel: T forward products, T backward products
and the one large ∂L/∂V product). An element-wise recurrence (diagonal or selective: the LRU,
minGRU, S6, RG-LRU) has the "memory roofline": the time of moving the (T, B, H) tensors its
scan must read or write at least (its registration's ``scan_traffic``), at the speed of a copy
of one such tensor measured there, plus the time of its whole-sequence products where they are
as wide as a hidden-by-hidden one (``scan_products``: the LRU's dense complex readout), the
bound then called "memory + GEMM".
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass

import torch

from .nn import build_model
from .nn.protocol import all_states
from .registry import model_spec, model_specs

# (name, batch, hidden, length, inputs): copy (Henaff T = 500: length 520), adding T = 750,
# psMNIST (784 pixels, one per step), and expRNN's copy setting (L = 1000: length 1020).
SIZES = (
    ("copy d=80", 50, 80, 520, 10),
    ("copy d=128", 50, 128, 520, 10),
    ("adding d=128", 50, 128, 750, 2),
    ("psMNIST d=128", 50, 128, 784, 1),
    ("expRNN copy", 128, 190, 1020, 10),
)


@dataclass(frozen=True)
class Layer:
    name: str
    gates: int  # matrix products per step are (B, H) @ (H, gates·H)
    build: object  # (n_inputs, hidden) -> module mapping (T, B, n) to (T, B, H)
    traffic: float = 0  # an element-wise recurrence's least (T, B, H) passes: memory roofline
    products: int = 0  # and its whole-sequence products' width, in H blocks (spec.scan_products)


class _TorchRNN(torch.nn.Module):
    def __init__(self, n, h, cls, **kw):
        super().__init__()
        self.rnn = cls(n, h, **kw)

    def forward(self, x):
        return self.rnn(x)[0]


class _LSTMCellLoop(torch.nn.Module):
    """An LSTM stepped from Python with ``torch.nn.LSTMCell``: the per-step reference."""

    def __init__(self, n, h):
        super().__init__()
        self.cell = torch.nn.LSTMCell(n, h)

    def forward(self, x):
        h = c = x.new_zeros(x.shape[1], self.cell.hidden_size)
        states = []
        for t in range(x.shape[0]):
            h, c = self.cell(x[t], (h, c))
            states.append(h)
        return torch.stack(states)


def _rnnmem(model: str, fused: bool, **options):
    spec = model_spec(model)  # the model's own recipe: the LT-RNN clips
    recipe = {k: v for k, v in spec.recipe.get("model_options", {}).items() if k in spec.options}
    return lambda n, h: build_model(model, n, 1, h, fused=fused, **recipe, **options).rnn


def _kernel_rows(name: str, spec, quick: bool = False) -> list[Layer]:
    """The model's fused kernel, or each of its alternative kernels (the default marked; only
    the default when ``quick``)."""
    bound = dict(gates=spec.gemm_blocks, traffic=spec.scan_traffic, products=spec.scan_products)
    if not spec.builtin:  # what runs a plugin's recurrence is its own: not named for it
        return [Layer(f"{name} (plugin)", build=_rnnmem(name, True), **bound)]
    if not spec.kernels or quick:
        return [Layer(f"{name} ({spec.kernel})", build=_rnnmem(name, True), **bound)]
    return [Layer(f"{name} ({label}{', default' if label == spec.kernel else ''})",
                  build=_rnnmem(name, True, **options), **bound)
            for label, options in spec.kernels.items()]


def bench_layers(models: list[str] | None = None, *, quick: bool = False
                 ) -> tuple[Layer, ...]:
    """One row per built-in model (its default init and activation), or per model of
    ``models`` (registered names: a plugin's too), and per reference version, then PyTorch's
    own loops for scale: torch.nn.RNN and an LSTMCell stepped from Python. ``quick``: each
    model's default kernel alone, no per-step references."""
    specs = model_specs()
    chosen = ({name: specs[name] for name in models} if models is not None else
              {name: spec for name, spec in specs.items() if spec.builtin and not spec.pooled})
    return (
        *(row for name, spec in chosen.items() for row in _kernel_rows(name, spec, quick)),
        *(Layer(f"{name} ({spec.reference})", spec.gemm_blocks, _rnnmem(name, False),
                spec.scan_traffic, spec.scan_products)
          for name, spec in chosen.items() if spec.reference and not quick),
        Layer("torch.nn.RNN tanh", 1, lambda n, h: _TorchRNN(n, h, torch.nn.RNN)),
        Layer("torch.nn.LSTMCell (per-step)", 4, lambda n, h: _LSTMCellLoop(n, h)),
    )


def _least_ms(fn, repeats: int) -> float:
    """The least of ``repeats`` single calls (what a load took nothing from), after one
    warm-up call."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def _step(layer: Layer, B: int, H: int, T: int, n: int):
    """Forward + backward of one batch through the layer, as a function of nothing. The
    backward starts from a dense gradient of every state, as a readout's loss gives one (a
    sum's gradient, one value broadcast, is copied to a dense tensor by every matrix product
    that meets it)."""
    torch.manual_seed(0)
    module = layer.build(n, H)
    x, upstream = torch.randn(T, B, n), []  # (T, B, the layer's output width), drawn once

    def step():
        module.zero_grad(set_to_none=True)
        states = all_states(module, x)
        if not upstream:
            upstream.append(torch.randn_like(states))
        states.backward(upstream[0])

    return step


def layer_ms(layer: Layer, B: int, H: int, T: int, n: int, repeats: int) -> float:
    """The least milliseconds of :func:`_step` over ``repeats`` calls, after a warm-up."""
    return _least_ms(_step(layer, B, H, T, n), repeats)


def _slow(layer: Layer) -> bool:
    return "per-step" in layer.name


def interleaved_ms(layers, B: int, H: int, T: int, n: int, repeats: int, slow_repeats: int
                   ) -> dict[str, float]:
    """Layer name -> the least milliseconds of its step, the layers timed in turns: each of
    ``repeats`` rounds runs every layer once (a per-step reference in the first
    ``slow_repeats`` rounds only), so a load that comes and goes weighs on every row of a size
    alike and their ratios hold (as ``benchmarks/interleaved.py``'s). A layer that cannot run
    is named in a warning and left out."""
    steps = {}
    for layer in layers:
        try:
            step = _step(layer, B, H, T, n)
            step()  # the warm-up call; a layer that cannot run fails here
        except Exception as err:  # noqa: BLE001 - a plugin's layer: said, skipped
            reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
            warnings.warn(f"{layer.name} at (B={B}, H={H}, T={T}) cannot be measured: "
                          f"{type(err).__name__}: {reason}", stacklevel=2)
            continue
        steps[layer.name] = (step, slow_repeats if _slow(layer) else repeats)
    times = {name: [] for name in steps}
    for round_ in range(max([r for _, r in steps.values()], default=0)):
        for name, (step, rounds) in steps.items():
            if round_ < rounds:
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
    return {name: 1000 * min(t) for name, t in times.items()}


def roofline_ms(B: int, H: int, T: int, gates: int, repeats: int) -> float:
    """The step's matrix products alone: 2T products (B,H)@(H,gH) and one (gH,TB)@(TB,H)."""
    h = torch.randn(B, H)
    W = torch.randn(H, gates * H)
    out = torch.empty(B, gates * H)
    back = torch.randn(B, gates * H)
    Wt = torch.randn(gates * H, H)
    out_back = torch.empty(B, H)
    big_left = torch.randn(gates * H, T * B)
    big_right = torch.randn(T * B, H)

    def products():
        for _ in range(T):
            torch.mm(h, W, out=out)
        for _ in range(T):
            torch.mm(back, Wt, out=out_back)
        torch.mm(big_left, big_right)

    return _least_ms(products, repeats)


def memory_roofline_ms(B: int, H: int, T: int, traffic: float, repeats: int) -> float:
    """``traffic`` passes over a (T, B, H) float32 tensor at the speed of copying one (a copy
    reads one and writes one: two passes), measured at that size (in cache or not, as the
    layer's tensors are); the least of at least 5 copies: a bound, which a load only raises."""
    source, target = torch.randn(T, B, H), torch.empty(T, B, H)
    return _least_ms(lambda: target.copy_(source), max(repeats, 5)) * traffic / 2


def sequence_products_ms(B: int, H: int, T: int, blocks: int, repeats: int) -> float:
    """An element-wise layer's whole-sequence products (T·B, blocks·H) → (T·B, H) alone:
    forward, the gradient of its input and of its weight (the LRU's readout)."""
    wide, narrow, weight = (torch.randn(T * B, blocks * H), torch.randn(T * B, H),
                            torch.randn(H, blocks * H))

    def products():
        wide @ weight.t()
        narrow @ weight
        narrow.t() @ wide

    return _least_ms(products, repeats)


def roofline(gates: int, traffic: float, products: int, B: int, H: int, T: int, repeats: int
             ) -> tuple[str, float]:
    """A layer's bound and its milliseconds: memory for an element-wise recurrence (``traffic``
    passes; "memory + GEMM" with its wide ``products``), GEMM otherwise (``gates``)."""
    if traffic and products:
        return "memory + GEMM", (memory_roofline_ms(B, H, T, traffic, repeats)
                                 + sequence_products_ms(B, H, T, products, repeats))
    if traffic:
        return "memory", memory_roofline_ms(B, H, T, traffic, repeats)
    return "GEMM", roofline_ms(B, H, T, gates, repeats)


def flops(B: int, H: int, T: int, n: int, gates: int) -> float:
    """Multiply-adds × 2 of forward + backward: recurrent (3 products) and input (3 products)."""
    return 2 * 3 * T * B * gates * H * (H + n)


def run_bench(*, repeats: int = 5, threads=(1, None), sizes=SIZES, layers=None,
              slow_repeats: int = 2, progress=None) -> list[dict]:
    """One row per (threads, size, layer). ``threads`` None means all cores. ``progress(row,
    done, total)`` is called after each row."""
    layers = bench_layers() if layers is None else layers
    rows, total = [], len(threads) * len(sizes) * len(layers)
    saved = torch.get_num_threads()
    try:
        for n_threads in threads:
            n_threads = n_threads or os.cpu_count() or 1
            torch.set_num_threads(n_threads)
            for size, B, H, T, n in sizes:
                roofs = {key: roofline(*key, B, H, T, repeats)
                         for key in {(lay.gates, lay.traffic, lay.products) for lay in layers}}
                measured = interleaved_ms(layers, B, H, T, n, repeats, slow_repeats)
                for layer in layers:
                    if layer.name not in measured:
                        continue
                    key, ms = (layer.gates, layer.traffic, layer.products), measured[layer.name]
                    slow = _slow(layer)
                    remeasured = 0
                    # a layer faster than its own matrix products alone: one of the two timings
                    # was disturbed (a loaded machine); measure both again, then say so
                    while roofs[key][1] / ms > 1 and remeasured < 2:
                        remeasured += 1
                        roofs[key] = roofline(*key, B, H, T, repeats)
                        ms = layer_ms(layer, B, H, T, n, slow_repeats if slow else repeats)
                    bound, roof_ms = roofs[key]
                    fraction = roof_ms / ms
                    rows.append(dict(threads=n_threads, size=size, B=B, H=H, T=T, inputs=n,
                                     layer=layer.name, ms=ms,
                                     gflops=flops(B, H, T, n, layer.gates) / ms / 1e6,
                                     bound=bound, roofline_ms=roof_ms,
                                     roofline_fraction=fraction, disturbed=fraction > 1))
                    if fraction > 1:
                        warnings.warn(f"{layer.name} at {size}: roofline fraction {fraction:.2f} "
                                      "> 1 after re-measuring: the timings were disturbed (a "
                                      "loaded machine?); rerun rnnmem bench on idle cores",
                                      stacklevel=2)
                    if progress:
                        progress(rows[-1], len(rows), total)
    finally:
        torch.set_num_threads(saved)
    return rows


def format_rows(rows: list[dict]) -> str:
    lines = ["| threads | size (B, H, T) | layer | fwd+bwd ms | GFLOP/s | roofline ms | "
             "roofline fraction |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['threads']} | {r['size']} ({r['B']}, {r['H']}, {r['T']}) | "
                     f"{r['layer']} | {r['ms']:.1f} | {r['gflops']:.2f} | "
                     f"{r['roofline_ms']:.1f} ({r['bound']}) | {r['roofline_fraction']:.2f}"
                     f"{' (disturbed)' if r.get('disturbed') else ''} |")
    return "\n".join(lines)


def sweep_throughput(workers_list=(1, 2), runs: int = 8, steps: int = 2000) -> list[dict]:
    """Training runs per minute with 1 and 2 worker processes (copy T = 100, 80 units), at a
    sweep's size: with short runs, process start-up and imports would dominate."""
    import tempfile

    from .sweep import run_all
    from .train import TrainConfig

    results = []
    for workers in workers_list:
        with tempfile.TemporaryDirectory() as tmp:
            jobs = [(TrainConfig(steps=steps, eval_every=steps, val_size=100, seed=s),
                     f"{tmp}/run{s}") for s in range(runs)]
            start = time.perf_counter()
            run_all(jobs, workers=workers)
            seconds = time.perf_counter() - start
        results.append(dict(workers=workers, runs=runs, steps=steps, seconds=seconds,
                            runs_per_minute=60 * runs / seconds))
    return results
