from rnnmem.sweep import run_all
from rnnmem.train import TrainConfig

TINY = dict(task="copy", T=6, S=2, K=3, hidden=8, batch=4, steps=15, eval_every=5, val_size=8)


def test_worker_processes_give_the_same_results_as_one_process(tmp_path):
    configs = [TrainConfig(**TINY, seed=s) for s in range(3)]
    parallel = run_all([(c, tmp_path / f"p{i}") for i, c in enumerate(configs)], workers=2)
    serial = run_all([(c, tmp_path / f"s{i}") for i, c in enumerate(configs)], workers=1)
    for p, s in zip(parallel, serial, strict=True):
        assert p["final_val_loss"] == s["final_val_loss"]
        assert p["final_train_loss"] == s["final_train_loss"]
    assert len({s["final_val_loss"] for s in serial}) == 3
