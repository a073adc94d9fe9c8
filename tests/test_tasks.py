import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnmem.registry import task_spec
from rnnmem.tasks import AddingTask, CopyTask, VariableCopyTask


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def tokens(x):
    return x.argmax(-1)


# ---------------------------------------------------------------- copy, all conventions

@pytest.mark.parametrize("convention, T, length, marker, first_answer", [
    ("henaff", 100, 120, 109, 110),   # S symbols, T-1 blanks, marker, S blanks
    ("total", 500, 500, 489, 490),    # Orhan & Pitkow: marker 11 steps from the end
    ("exprnn", 100, 120, 110, 110),   # S symbols, T blanks, marker, S-1 blanks
])
def test_copy_layout(convention, T, length, marker, first_answer):
    task = CopyTask(T, S=10, K=8, convention=convention)
    x, y = task.sample(7, gen())
    tok = tokens(x)
    assert x.shape == (length, 7, 10) and y.shape == (length, 7)
    assert task.marker_step == marker and task.answer_start == first_answer
    assert (tok[:10] < 8).all()
    assert (tok[marker] == 9).all()
    others = torch.ones(length, dtype=torch.bool)
    others[:10] = False
    others[marker] = False
    assert (tok[others] == 8).all()
    assert (y[:first_answer] == 8).all()
    assert torch.equal(y[first_answer:], tok[:10])


def test_copy_henaff_matches_paper_text():
    # T + 2S inputs; target: T + S blanks then the S symbols.
    task = CopyTask(T=30, S=5, K=4)
    x, y = task.sample(3, gen(1))
    assert x.shape[0] == 40
    assert (y[:35] == 4).all() and torch.equal(y[35:], tokens(x)[:5])


def test_total_convention_is_henaff_with_shorter_delay():
    a = CopyTask(500, convention="total")
    b = CopyTask(480, convention="henaff")
    xa, ya = a.sample(4, gen(3))
    xb, yb = b.sample(4, gen(3))
    assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_seeded_repeatability_and_independence():
    for task in (CopyTask(20), VariableCopyTask(20), AddingTask(30)):
        x1, y1 = task.sample(5, gen(7))
        x2, y2 = task.sample(5, gen(7))
        x3, _ = task.sample(5, gen(8))
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
        assert not torch.equal(x1, x3)


def _monte_carlo_baseline(task, n=20000, seed=5):
    """Loss of predicting each step's empirical target distribution (fit and test halves)."""
    _, y_fit = task.sample(n, gen(seed))
    _, y_test = task.sample(n, gen(seed + 1))
    classes = task.n_outputs
    counts = torch.nn.functional.one_hot(y_fit, classes).double().sum(1) + 1e-3
    log_p = (counts / counts.sum(1, keepdim=True)).log()  # (L, C)
    return -log_p.gather(1, y_test).mean().item()


@pytest.mark.parametrize("task", [CopyTask(40, S=5, K=4), CopyTask(30, convention="exprnn"),
                                  VariableCopyTask(20, S=4, K=3), VariableCopyTask(8, S=8)])
def test_symbol_baseline_equals_monte_carlo(task):
    assert task.marginal_baseline() == pytest.approx(_monte_carlo_baseline(task), rel=0.02)


@pytest.mark.parametrize("T, S, K", [(20, 4, 3), (100, 10, 8), (8, 8, 2)])
def test_chance_baseline_is_memoryless_recall(T, S, K):
    # A predictor that knows when answers are due but remembers no symbol: S ln K / L.
    copy, varcopy = CopyTask(T, S=S, K=K), VariableCopyTask(T, S=S, K=K)
    expected = S * math.log(K) / (T + 2 * S)
    assert copy.baseline() == pytest.approx(expected) == copy.marginal_baseline()
    assert varcopy.baseline() == pytest.approx(expected)
    assert varcopy.marginal_baseline() > varcopy.baseline()  # it cannot see the delimiter


def test_copy_baseline_closed_form():
    task = CopyTask(100)
    assert task.baseline() == pytest.approx(10 * math.log(8) / 120, rel=1e-12)


# ---------------------------------------------------------------- variable-length copy

def test_variable_copy_layout():
    T, S = 50, 6
    task = VariableCopyTask(T, S=S, K=5)
    x, y = task.sample(400, gen(2))
    tok = tokens(x)
    marker = (tok == 6).float().argmax(0)  # one marker per sequence
    assert ((tok == 6).sum(0) == 1).all()
    assert marker.min() >= S and marker.max() <= S + T - 1  # 1-based [S+1, S+T]
    assert marker.unique().numel() > 30  # spread over the range
    for b in range(400):
        m = marker[b].item()
        assert torch.equal(y[m + 1 : m + 1 + S, b], tok[:S, b])
        assert (y[: m + 1, b] == 5).all() and (y[m + 1 + S :, b] == 5).all()


def test_variable_copy_rejects_bad_sizes():
    with pytest.raises(ValueError, match="T must be"):
        VariableCopyTask(0)
    with pytest.raises(ValueError, match="S must be"):
        VariableCopyTask(10, S=0)


# ---------------------------------------------------------------- adding

@pytest.mark.parametrize("placement", ["anywhere", "halves"])
def test_adding_marks_and_target(placement):
    T = 41
    task = AddingTask(T, placement=placement)
    x, y = task.sample(500, gen(4))
    values, marks = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert (marks.sum(0) == 2).all()
    assert torch.allclose((values * marks).sum(0), y)
    where = marks.t().nonzero()  # (b, t) pairs, each sequence's two steps in order
    first, second = where[::2, 1], where[1::2, 1]
    if placement == "halves":
        assert (first < T // 2).all() and (second >= T // 2).all()
    else:  # both marks may fall in the same half
        assert (second < T // 2).any() and (first >= T // 2).any()


def test_adding_anywhere_uses_both_halves_for_both_marks():
    x, _ = AddingTask(20).sample(2000, gen(9))
    steps = x[..., 1].nonzero()[:, 0]
    counts = torch.bincount(steps, minlength=20).float()
    assert counts.min() > 0.6 * counts.mean()  # uniform over all steps


def test_adding_channel_order():
    a, _ = AddingTask(10, channels="value-mark").sample(3, gen(1))
    b, _ = AddingTask(10, channels="mark-value").sample(3, gen(1))
    assert torch.equal(a, b.flip(-1))


def test_adding_baseline_is_variance_of_target():
    task = AddingTask(50, placement="halves")
    _, y = task.sample(200000, gen(3))
    assert task.baseline() == pytest.approx(1 / 6, rel=1e-12)
    assert y.var().item() == pytest.approx(task.baseline(), rel=0.02)


def test_loss_metric_and_solved():
    task = CopyTask(10, S=3, K=4)
    x, y = task.sample(8, gen())
    perfect = torch.nn.functional.one_hot(y, task.n_outputs).double() * 50
    assert task.loss(perfect, y).item() < 1e-10
    assert task.metric(perfect, y) == 1.0 and task.solved(0.0)
    assert not task.solved(task.baseline())
    adding = AddingTask(10)
    x, y = adding.sample(8, gen())
    out = torch.zeros(10, 8, 1)
    out[-1, :, 0] = y
    assert adding.loss(out, y).item() == 0.0


def test_an_unknown_task_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid tasks: copy, varcopy, adding, "):
        task_spec("copyy")


def test_bad_convention_and_sizes():
    with pytest.raises(ValueError, match="convention must be one of"):
        CopyTask(10, convention="arjovsky")
    with pytest.raises(ValueError, match="T must be"):
        CopyTask(-1)
    with pytest.raises(ValueError, match="total length"):
        CopyTask(20, convention="total")  # needs T >= 2S + 1
    with pytest.raises(ValueError, match="placement"):
        AddingTask(10, placement="middle")


# ---------------------------------------------------------------- properties

@settings(max_examples=40, deadline=None)
@given(T=st.integers(1, 40), S=st.integers(1, 8), K=st.integers(2, 9), B=st.integers(1, 6),
       convention=st.sampled_from(["henaff", "exprnn"]), seed=st.integers(0, 2**31))
def test_copy_properties(T, S, K, B, convention, seed):
    task = CopyTask(T, S=S, K=K, convention=convention)
    x, y = task.sample(B, gen(seed))
    assert x.shape == (T + 2 * S, B, K + 2)
    assert torch.equal(x.sum(-1), torch.ones(T + 2 * S, B))  # one-hot
    assert torch.equal(y[-S:], tokens(x)[:S])
    assert (y[:-S] == K).all()
    assert 0 <= task.baseline() <= math.log(max(K, 1)) + 1e-12


@settings(max_examples=40, deadline=None)
@given(T=st.integers(1, 40), S=st.integers(1, 8), K=st.integers(2, 9), B=st.integers(1, 6),
       seed=st.integers(0, 2**31))
def test_variable_copy_properties(T, S, K, B, seed):
    task = VariableCopyTask(T, S=S, K=K)
    x, y = task.sample(B, gen(seed))
    tok = tokens(x)
    assert x.shape == (T + 2 * S, B, K + 2)
    assert ((y < K).sum(0) == S).all()  # exactly S answers per sequence
    assert ((tok == K + 1).sum(0) == 1).all()
    q = task.answer_probability()
    assert q.sum().item() == pytest.approx(S)
    assert ((q >= 0) & (q <= 1 + 1e-12)).all()


@settings(max_examples=40, deadline=None)
@given(T=st.integers(2, 60), B=st.integers(1, 6), seed=st.integers(0, 2**31),
       placement=st.sampled_from(["anywhere", "halves"]))
def test_adding_properties(T, B, seed, placement):
    task = AddingTask(T, placement=placement)
    x, y = task.sample(B, gen(seed))
    assert x.shape == (T, B, 2) and y.shape == (B,)
    assert (x[..., 1].sum(0) == 2).all()
    assert ((y >= 0) & (y < 2)).all()
