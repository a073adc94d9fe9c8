import json

import pytest
import torch

from rnnmem.cli import main
from rnnmem.constructions import (
    adding_construction,
    answer_logits,
    clock_matrix,
    copy_construction,
    copy_success,
    interference,
    sample_clock,
    sample_codes,
)
from rnnmem.nn import RecurrentNet
from rnnmem.tasks import AddingTask, CopyTask


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def run(net, x):
    with torch.no_grad():
        return net(x.double())


@pytest.mark.parametrize("placement", ["anywhere", "halves"])
@pytest.mark.parametrize("d", [1, 16])
def test_adding_construction_is_exact(placement, d):
    x, y = AddingTask(750, placement=placement).sample(200, gen(d))
    out, _ = run(adding_construction(d), x)
    assert (out[-1, :, 0] - y.double()).abs().max().item() < 1e-6


def test_constructions_are_library_lt_rnns():
    net = copy_construction(10, 2, 4, 8)
    assert isinstance(net, RecurrentNet) and net.rnn.fused and net.rnn.clip is None


def test_clock_period():
    T, S, d = 37, 5, 16
    freqs = sample_clock(1, d, T + S, gen())[0]
    Q = clock_matrix(freqs, T + S)
    eye = torch.eye(2 * d, dtype=torch.float64)
    assert torch.allclose(torch.linalg.matrix_power(Q, T + S), eye, atol=1e-10)
    assert not torch.allclose(torch.linalg.matrix_power(Q, (T + S) // 2), eye, atol=1e-3)
    assert torch.allclose(Q.t() @ Q, eye, atol=1e-12)


def test_paper_walkthrough_hidden_states():
    T, S, K, d = 20, 4, 6, 32
    freqs = sample_clock(1, d, T + S, gen(1))[0]
    codes = sample_codes(1, d, K, gen(2))[0]
    net = copy_construction(T, S, K, d, freqs=freqs, codes=codes)
    x, _ = CopyTask(T, S=S, K=K).sample(3, gen(3))
    _, h = run(net, x)
    # The counter h_{2d+1}: -1/S per symbol, -1 per blank, +(S+T+1) at the delimiter.
    counter = [-(t + 1) / S for t in range(S)] + [-(k + 2.0) for k in range(T - 1)]
    counter += [S + 1.0] + [S - m for m in range(S)]
    expected = torch.tensor(counter, dtype=torch.float64)
    for b in range(3):
        assert torch.allclose(h[:, b, 2 * d], expected, atol=1e-12)
    Q = clock_matrix(freqs, T + S)
    symbols = x[:S].argmax(-1)  # (S, B)
    u = codes[:, symbols[:, 0]]  # columns u_{i_j}
    after_inputs = sum(torch.linalg.matrix_power(Q, S - j) @ u[:, j - 1] for j in range(1, S + 1))
    assert torch.allclose(h[S - 1, 0, : 2 * d], after_inputs, atol=1e-10)
    Qinv = Q.t()
    surfaced = u[:, 0] + sum(torch.linalg.matrix_power(Qinv, j - 1) @ u[:, j - 1]
                             for j in range(2, S + 1))
    assert torch.allclose(h[T + S, 0, : 2 * d], surfaced, atol=1e-10)  # time T+S+1, 1-based


def test_paper_construction_errs_only_at_the_delimiter_step():
    T, S, K, d = 40, 3, 8, 256
    task = CopyTask(T, S=S, K=K)
    x, y = task.sample(16, gen(4))
    out, _ = run(copy_construction(T, S, K, d, generator=gen(5)), x)
    wrong = out.argmax(-1) != y
    assert wrong[task.marker_step].all()  # blank is due, the counter already says "answer"
    wrong[task.marker_step] = False
    assert not wrong.any()


def test_paper_construction_is_right_everywhere_in_the_exprnn_layout():
    T, S, K, d = 40, 3, 8, 256
    x, y = CopyTask(T, S=S, K=K, convention="exprnn").sample(16, gen(4))
    out, _ = run(copy_construction(T, S, K, d, generator=gen(5)), x)
    assert torch.equal(out.argmax(-1), y)


@pytest.mark.parametrize("S", [1, 3, 5])
def test_corrected_construction_is_right_at_every_step(S):
    T, K, d = 60, 8, 256
    x, y = CopyTask(T, S=S, K=K).sample(32, gen(S))
    out, _ = run(copy_construction(T, S, K, d, corrected=True, generator=gen(6)), x)
    assert torch.equal(out.argmax(-1), y)


def test_answer_logits_match_the_module():
    T, S, K, d = 30, 6, 5, 24
    freqs = sample_clock(1, d, T + S, gen(7))[0]
    codes = sample_codes(1, d, K, gen(8))[0]
    x, _ = CopyTask(T, S=S, K=K).sample(9, gen(9))
    symbols = x[:S].argmax(-1).t()
    for corrected in (False, True):
        out, _ = run(copy_construction(T, S, K, d, freqs=freqs, codes=codes,
                                       corrected=corrected), x)
        formula = answer_logits(freqs.expand(9, d), codes.expand(9, -1, -1), symbols, T, S)
        assert torch.allclose(formula, out[-S:].permute(1, 0, 2), atol=1e-10)


def test_success_falls_with_S_and_rises_with_d():
    rate = lambda S, d: copy_success(200, S, 8, d, 300, gen(S * d)).double().mean().item()  # noqa: E731
    assert rate(1, 64) == 1.0
    assert rate(20, 32) < rate(20, 128) < rate(20, 512)
    assert rate(40, 128) < rate(10, 128)


def test_interference_scales_like_S_over_d():
    for S, d in [(10, 64), (20, 128)]:
        measured = interference(300, S, 8, d, 4000, gen(S)).mean().item()
        # codes live in 2d dimensions: between (S-1)/(2d) (distinct symbols) and (S-1)/d
        assert 0.9 * (S - 1) / (2 * d) < measured < (S - 1) / d


def test_construct_cli(tmp_path, capsys):
    assert main(["construct", "copy", "--T", "50", "--d", "32", "--K", "2,8", "--S", "1,5",
                 "--trials", "20", "--out", str(tmp_path), "--figure"]) == 0
    out = capsys.readouterr().out
    assert "| K \\ S | 1 | 5 |" in out and "paper 0%" in out
    assert "(all T+2S steps, blanks too" in out  # not the table's measure: named
    results = json.loads((tmp_path / "copy.json").read_text())
    assert set(results["answers_success"]) == {"2,1", "2,5", "8,1", "8,5"}
    assert (tmp_path / "copy-fig1.png").is_file() and (tmp_path / "copy-vs-d.png").is_file()
    assert main(["construct", "adding", "--T", "30", "--d", "1,4", "--out", str(tmp_path)]) == 0
    errors = json.loads((tmp_path / "adding.json").read_text())["max_abs_error"]
    assert max(errors.values()) < 1e-6
    assert main(["construct", "copy", "--K", "0"]) == 2
    assert main(["construct", "copy", "--d", "8,16"]) == 2
