import json

import pytest
import torch

from rnnmem import init
from rnnmem.analysis import henrici, hidden_chain, schur_profile
from rnnmem.cli import main
from rnnmem.memory import (
    NoStationaryState,
    chain_memory_closed_form,
    decoding_curve,
    fisher_memory,
    noise_covariance,
    pulse_response,
    total_memory,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def unit(n, seed=0):
    v = torch.randn(n, generator=gen(seed), dtype=torch.float64)
    return v / v.norm()


def square(n):
    return torch.empty(n, n, dtype=torch.float64)


def random_symmetric(n, radius, seed=0):
    A = torch.randn(n, n, generator=gen(seed), dtype=torch.float64)
    S = A + A.T
    return radius * S / torch.linalg.eigvalsh(S).abs().max()


@pytest.mark.parametrize("W", [
    0.9 * init.orthogonal_(square(30), generator=gen(1)),
    0.5 * init.orthogonal_(square(30), generator=gen(2)),
    random_symmetric(30, 0.95),
    0.7 * torch.eye(30, dtype=torch.float64),
])
def test_total_memory_is_one_for_normal_networks(W):
    v = unit(30, 3)
    assert total_memory(W, v) == pytest.approx(1.0, abs=1e-8)
    assert fisher_memory(W, v, k_max=3000).sum().item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("alpha", [0.8, 1.0, 1.2])
def test_chain_memory_closed_form(alpha):
    N = 40
    W = init.chain_(square(N), gain=alpha)
    J = fisher_memory(W, torch.eye(N, dtype=torch.float64)[0], k_max=60)
    expected = torch.tensor([alpha ** (2 * k) / sum(alpha ** (2 * j) for j in range(k + 1))
                             if k < N else 0.0 for k in range(60)], dtype=torch.float64)
    assert torch.allclose(J, expected, atol=1e-9)
    assert torch.allclose(J, chain_memory_closed_form(alpha, N, 60), atol=1e-9)
    assert (J[N:] == 0).all()


def test_chain_total_memory_grows_with_alpha_toward_N():
    N = 50
    source = torch.eye(N, dtype=torch.float64)[0]
    totals = [total_memory(init.chain_(square(N), gain=a), source) for a in (0.5, 1.0, 2.0, 5.0)]
    assert totals == sorted(totals)
    assert totals[1] == pytest.approx(sum(1 / (k + 1) for k in range(N)))  # harmonic number
    assert 0.9 * N < totals[-1] <= N


def test_memory_scales_as_one_over_noise():
    W, v = 0.9 * init.orthogonal_(square(10), generator=gen()), unit(10)
    J1 = fisher_memory(W, v, k_max=20)
    J4 = fisher_memory(W, v, k_max=20, noise=4.0)
    assert torch.allclose(J4, J1 / 4)
    assert total_memory(W, v, noise=0.5) == pytest.approx(2 * total_memory(W, v))


def test_covariance_sums_match_direct_sums():
    W = 0.5 * torch.randn(8, 8, generator=gen(4), dtype=torch.float64) / 8**0.5
    direct = lambda n: sum(torch.linalg.matrix_power(W, k) @ torch.linalg.matrix_power(W, k).T  # noqa: E731
                           for k in range(n))
    assert torch.allclose(noise_covariance(W, horizon=13), direct(13))
    assert torch.allclose(noise_covariance(W), direct(200))


def test_spectral_radius_one_has_no_stationary_state():
    for W in (torch.eye(5), init.orthogonal_(square(5), generator=gen()), 1.01 * torch.eye(5)):
        with pytest.raises(NoStationaryState, match="spectral radius"):
            total_memory(W, unit(5))
    # a finite horizon works for any W; the identity with horizon n: J(k) = 1/n for k < n
    J = fisher_memory(torch.eye(5, dtype=torch.float64), unit(5), k_max=12, horizon=10)
    assert torch.allclose(J[:10], torch.full((10,), 0.1, dtype=torch.float64))
    assert (J[10:] == 0).all()


def test_strongly_non_normal_feedback_chain_stays_accurate():
    # C's condition number is ~1e16 here; the square-root doubling keeps J_tot == Σ J(k).
    N = 100
    source = torch.eye(N, dtype=torch.float64)[0]
    W = init.feedback_chain_(square(N), gain=0.99, feedback=0.15)
    total = total_memory(W, source)
    assert 1 < total <= N
    assert fisher_memory(W, source, k_max=4000).sum().item() == pytest.approx(total, rel=1e-6)


def test_pulse_response():
    W = init.chain_(square(6), gain=2.0)
    norms = pulse_response(W, torch.eye(6, dtype=torch.float64)[0], 8)
    assert norms.tolist() == [1, 2, 4, 8, 16, 32, 0, 0]


def test_henrici():
    assert henrici(init.orthogonal_(square(20), generator=gen())) < 1e-6
    assert henrici(random_symmetric(20, 1.0)) < 1e-6
    alpha, N = 1.3, 25
    assert henrici(init.chain_(square(N), gain=alpha)) == pytest.approx(alpha * (N - 1) ** 0.5)
    assert henrici(init.chain_(square(N), gain=alpha), normalized=True) == pytest.approx(1.0)


def test_schur_profile_matches_henrici():
    W = torch.randn(12, 12, generator=gen(5), dtype=torch.float64)
    profile = schur_profile(W)
    assert profile["offdiag_fraction"] == pytest.approx(henrici(W, normalized=True) ** 2)
    assert len(profile["by_offset"]) == 11
    chain = schur_profile(init.chain_(square(6)))
    assert chain["offdiag_fraction"] == pytest.approx(1.0)


def test_decoder_recovers_past_inputs_of_a_noiseless_linear_chain():
    N = 30
    W, source = init.chain_(square(N)), torch.eye(N, dtype=torch.float64)[0]
    r2 = decoding_curve(W, source, length=N, train=200, test=200)
    assert (r2 > 1 - 1e-9).all()
    # beyond its length the chain has forgotten: an input N or more steps back is gone
    r2 = decoding_curve(W, source, length=N + 10, train=3000, test=1000)
    assert (r2[:N] > 1 - 1e-9).all() and (r2[N:].abs() < 0.05).all()


def test_noise_favours_the_chain_over_orthogonal():
    N = 30
    chain = decoding_curve(init.chain_(square(N)), torch.eye(N, dtype=torch.float64)[0],
                           length=N, noise=0.1, train=2000, test=1000)
    orth = decoding_curve(init.orthogonal_(square(N), generator=gen()), unit(N), length=N,
                          noise=0.1, train=2000, test=1000)
    assert chain.mean() > orth.mean() + 0.1


def test_hidden_chain_is_found_in_a_permuted_chain():
    N, alpha = 20, 0.9
    perm = torch.randperm(N, generator=gen(6))
    C = init.chain_(square(N), gain=alpha)
    W = C[perm][:, perm]  # the same chain with its units shuffled
    source = torch.zeros(N, dtype=torch.float64)
    source[(perm == 0).nonzero()[0, 0]] = 1.0  # the chain's first unit, wherever it went
    responses = torch.stack([torch.linalg.matrix_power(W, t) @ source for t in range(N)])
    result = hidden_chain(W, responses)
    assert result["chain_score"] == pytest.approx(alpha)
    assert torch.allclose(result["reordered"], C)


def test_trend_reads_a_gate_profile_monotone_in_i_minus_j():
    N = 40
    in_order = torch.eye(N, dtype=torch.float64)  # unit i peaks at step i: order kept
    ramp = init.toeplitz_ramp_(square(N), gain=0.01)  # the mixed LSTM init's gates (§2.5)
    assert hidden_chain(ramp, in_order)["trend"] == pytest.approx(1.0)
    assert hidden_chain(ramp.T, in_order)["trend"] == pytest.approx(-1.0)
    # a chain is a bump at i - j = +1, not a trend; a flat profile has none
    assert abs(hidden_chain(init.chain_(square(N)), in_order)["trend"]) < 0.1
    assert hidden_chain(square(N).zero_(), in_order)["trend"] == 0.0


def test_memory_cli(tmp_path, capsys):
    assert main(["memory", "curve", "--N", "12", "--k-max", "30", "--out", str(tmp_path)]) == 0
    assert "J_tot = 1.0000" in capsys.readouterr().out
    data = json.loads((tmp_path / "memory-curves.json").read_text())
    assert len(data["networks"]) == 4 and (tmp_path / "memory-curves.png").is_file()
    assert main(["memory", "toy", "--N", "10", "--length", "12", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "decoding-toy.png").is_file()
    run = tmp_path / "run"
    assert main(["train", "--T", "5", "--S", "2", "--hidden", "8", "--steps", "5",
                 "--eval-every", "5", "--val-size", "4", "--batch", "4", "--out", str(run),
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["memory", "analyze", str(run), "--out", str(tmp_path)]) == 0
    assert "Henrici 0.000 ->" in capsys.readouterr().out
    assert (tmp_path / "analysis-run.png").is_file()


@pytest.mark.parametrize("args, message", [
    (["memory", "analyze"], "needs at least one RUN_DIR"),
    (["memory", "analyze", "/nonexistent"], "is not a finished run directory"),
    (["memory", "curve", "--noise", "0"], "must be > 0"),
    (["memory", "toy", "--nonlinearity", "sigmoid"], "--nonlinearity must be"),
    (["memory", "curve", "--N", "0"], "positive integers"),
    (["memory", "curve", "somedir"], "takes no run directories"),
])
def test_memory_cli_bad_input(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("model", ["lt-rnn", "srnn", "lstm", "gru", "exprnn", "nnrnn", "urnn",
                                   "lru", "mingru"])
def test_memory_analyze_runs_on_every_model(model, tmp_path, capsys):
    from rnnmem.cli import main

    run = tmp_path / model
    assert main(["train", "--task", "copy", "--T", "5", "--S", "2", "--K", "3", "--hidden", "6",
                 "--model", model, "--steps", "2", "--eval-every", "1", "--val-size", "4",
                 "--batch", "4", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    code = main(["memory", "analyze", str(run), "--out", str(tmp_path / "analysis"),
                 "--length", "20"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and code == 0
    assert "memory capacity" in captured.out  # every layer's memory, through its interface
    assert captured.out.startswith("[1/1] analyzing")  # a progress line first
    if model in ("urnn", "lru", "mingru"):  # no real recurrent matrix: said in one line
        assert "no weight analysis" in captured.out


@pytest.mark.parametrize("lam", [1.0, 1.5, 1e300])
def test_stationary_memory_of_an_unstable_network_is_refused(lam):
    from rnnmem.memory import NoStationaryState

    W, v = lam * torch.eye(6, dtype=torch.float64), torch.ones(6, dtype=torch.float64)
    for compute in (lambda: fisher_memory(W, v, k_max=5), lambda: total_memory(W, v)):
        with pytest.raises(NoStationaryState):  # once J(k) = 0 and J_tot = 1 at λ = 1.5
            compute()


def test_finite_horizon_memory_never_leaves_its_bound():
    from rnnmem.memory import MemoryOutOfBounds

    g = torch.Generator().manual_seed(0)
    N = 50
    W = torch.randn(N, N, generator=g, dtype=torch.float64)
    v = torch.randn(N, generator=g, dtype=torch.float64)
    for radius in (1.0, 1.05):  # marginal and unstable
        Wr = W * radius / torch.linalg.eigvals(W).abs().max()
        bound = N * v.pow(2).sum().item()
        for horizon in (50, 400, 800):
            try:
                J_tot = total_memory(Wr, v, horizon=horizon)
            except MemoryOutOfBounds:
                continue  # refused, not answered wrongly (ρ = 1.05 at horizon 800 gave 4.7e4)
            assert 0 < J_tot <= bound * (1 + 1e-6), (radius, horizon, J_tot)
            J = fisher_memory(Wr, v, k_max=horizon, horizon=horizon)
            assert J.sum().item() == pytest.approx(J_tot, rel=1e-6)
    with pytest.raises(MemoryOutOfBounds):
        total_memory(W * 1.05 / torch.linalg.eigvals(W).abs().max(), v, horizon=800)


def test_memory_curve_of_an_unstable_network_is_one_line(tmp_path, capsys):
    from rnnmem.cli import main

    assert main(["memory", "curve", "--lam", "1.5", "--N", "10", "--k-max", "10", "--out",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "identity (λ = 1.5)" in err and "does not exist" in err


def test_the_band_test_finds_a_hidden_chain_and_not_a_normal_matrix():
    from rnnmem.analysis import band_test
    from rnnmem.init import chain_, orthogonal_

    n, g = 24, torch.Generator().manual_seed(0)
    chain = chain_(torch.empty(n, n), gain=1.0) + 0.05 * torch.randn(n, n, generator=g)
    hidden = torch.randperm(n, generator=g)  # the chain, its units shuffled: hidden
    W = chain[hidden][:, hidden].double()
    order = torch.argsort(hidden)  # the order that undoes the shuffle (as peak times would)
    score, null, p = band_test(W, order, span=6, permutations=199)
    assert score > 0.1 > abs(null) and p == pytest.approx(1 / 200)
    Q = orthogonal_(torch.empty(n, n), generator=g).double()  # normal: no order is special
    _, _, p_q = band_test(Q, torch.arange(n), span=6, permutations=199)
    assert p_q > 0.05


def test_a_chain_grown_by_training_beats_untrained_networks_and_one_there_at_init_does_not(
        tmp_path):
    """The untrained-network null of the band score: a run whose trained V is a (hidden,
    permuted) chain against orthogonal untrained networks: p = 1/20; a chain-initialized run,
    whose untrained networks are chains too: not significant."""
    from rnnmem.experiments.memory import analyze_runs
    from rnnmem.rundir import RunDir
    from rnnmem.train import TrainConfig, train

    N = 20
    for name, init_name in (("grown", "orthogonal"), ("inborn", "chain")):
        config = TrainConfig(task="copy", T=5, S=2, K=3, model="lt-rnn", hidden=N,
                             init=init_name, input_activation="none", steps=1, val_size=4,
                             batch=4)
        summary = train(config, tmp_path / name)
        if name == "grown":  # what training would have made: a chain, its units shuffled
            run = RunDir(tmp_path / name)
            weights = run.weights()
            perm = torch.randperm(N, generator=gen(3))
            weights["rnn.V"] = init.chain_(torch.empty(N, N), gain=0.9)[perm][:, perm]
            run.finish(weights, summary)
    r = analyze_runs([tmp_path / "grown", tmp_path / "inborn"], tmp_path / "a", figure=False,
                     memory=False)
    grown, inborn = r["grown"]["trained"]["W"], r["inborn"]["trained"]["W"]
    assert grown["untrained_band_p"] == pytest.approx(1 / 20)
    assert abs(grown["untrained_band_mean"]) < 0.05 < grown["band_score"]
    assert inborn["untrained_band_p"] > 0.2  # a chain at init is no sign of training


def test_the_memory_docs_analysis_is_what_its_committed_weights_give(tmp_path):
    """docs/memory.md's trained-network table: analysis.json recomputed from the committed
    weights (the orthogonal run: the other two are the same code), and every row of the table
    read from analysis.json and the runs' summaries."""
    import re
    from pathlib import Path

    from rnnmem.experiments.memory import analyze_runs
    from rnnmem.io import read_json

    docs = Path(__file__).parents[1] / "docs"
    committed = read_json(docs / "results" / "memory" / "analysis.json")
    run = docs / "results" / "memory" / "runs" / "adding200-srnn-orthogonal"
    analyze_runs([run], tmp_path, figure=False)
    again = read_json(tmp_path / "analysis.json")["adding200-srnn-orthogonal"]
    for label in ("initial", "trained"):
        for key in ("henrici", "offdiag_fraction", "chain_score", "band_score"):
            assert again[label]["W"][key] == pytest.approx(
                committed["adding200-srnn-orthogonal"][label]["W"][key], rel=1e-4, abs=1e-7)
        assert again["memory"][label]["capacity"]["MC"] == pytest.approx(
            committed["adding200-srnn-orthogonal"]["memory"][label]["capacity"]["MC"], rel=1e-4)
    text = (docs / "memory.md").read_text()
    for name, entry in committed.items():
        W, MC = entry["trained"]["W"], entry["memory"]["trained"]["capacity"]["MC"]
        ratio = read_json(docs / "results" / "memory" / "runs" / name / "summary.json")[
            "final_val_ratio"]
        init = entry["config"]["model_options"]["init"]
        lr = f"{entry['config']['lr']:.0e}".replace("e-0", "e-")
        row = re.search(rf"^\| {init} \| {lr} \| ([^|]+) \| 0\.00 → ([^|]+) \| ([^|]+) % \|"
                        rf" [^|]+ \| [^|]+ \| [^|]+ → ([^|]+) \|$", text, re.M)
        assert row, (init, lr)
        assert float(row[1]) == pytest.approx(ratio, rel=5e-3)
        assert float(row[2]) == pytest.approx(W["henrici"], abs=5e-3)
        assert float(row[3]) == pytest.approx(100 * W["offdiag_fraction"], abs=0.05)
        assert float(row[4]) == pytest.approx(MC, abs=5e-3)
