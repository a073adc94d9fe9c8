"""Registered layers (a plugin's too) timed in turns in one process, for ratios that hold on a
busy machine.

    python benchmarks/interleaved.py skew-lt-rnn,lt-rnn,skew-rnn,srnn \
        --plugin docs/examples/scan_plugin.py [--size 520,50,80] [--rounds 40]
    python benchmarks/interleaved.py mingru:scan=compiled,lt-rnn,mingru,lt-rnn --size 520,50,128
    python benchmarks/interleaved.py lru:scan=compiled@64,lt-rnn --size 784,50,128

Each round runs forward + backward of every layer once (T × B sequences of 10 inputs, width H,
one thread); a layer's time is the least over the rounds (what a load took nothing from). The
ratios are of consecutive pairs (1st / 2nd, 3rd / 4th, ...): name each plugin before the
built-in of its equation; ``name:option=value`` sets a layer's string option, ``name@64`` its
width (other than --size's H: the LRU at N = H/2 complex units holds as many real states as an
H-unit LT-RNN). `rnnmem bench`
times its rows in turns too (least of its rounds); this script adds layer options and sizes.
"""

from __future__ import annotations

import argparse
import time

import torch

from rnnmem.nn.model import build_layer
from rnnmem.plugins import load_plugin


def build(name: str, H: int) -> torch.nn.Module:
    """``model[:option=value...][@width]`` built with 10 inputs, width ``H`` unless given."""
    name, _, width = name.partition("@")
    model, *options = name.split(":")
    return build_layer(model, 10, int(width) if width else H,
                       generator=torch.Generator().manual_seed(0),
                       **dict(o.split("=") for o in options))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models")
    parser.add_argument("--plugin", action="append", default=[])
    parser.add_argument("--size", default="520,50,80")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    for plugin in args.plugin:
        load_plugin(plugin)
    torch.set_num_threads(1)
    T, B, H = (int(n) for n in args.size.split(","))
    names = args.models.split(",")
    x = torch.randn(T, B, 10, generator=torch.Generator().manual_seed(1))
    layers = {n: build(n, H) for n in names}
    least = dict.fromkeys(names, float("inf"))
    for _ in range(args.rounds):
        for name, layer in layers.items():
            start = time.perf_counter()
            layer(x)[0].sum().backward()
            least[name] = min(least[name], time.perf_counter() - start)
    print(f"(T, B, H) = {(T, B, H)}, least of {args.rounds} rounds, forward + backward ms:")
    for name in names:
        print(f"  {name}: {least[name] * 1e3:.1f}")
    for first, second in zip(names[::2], names[1::2], strict=False):
        print(f"  {first} / {second}: {least[first] / least[second]:.2f}")


if __name__ == "__main__":
    main()
