import math

import numpy as np

from rnnmem.stats import format_mean_se, mean_se


def test_mean_se_is_the_sample_standard_error():
    mean, se = mean_se([1.0, 2.0, 6.0])
    assert mean == 3.0 and math.isclose(se, math.sqrt(7.0 / 3.0))  # s.d. √7 (ddof 1), n = 3
    means, ses = mean_se(np.array([[1.0, 4.0], [3.0, 4.0]]))
    assert means.tolist() == [2.0, 4.0] and ses.tolist() == [1.0, 0.0]
    assert mean_se([5.0])[1] == 0.0


def test_format_drops_missing_and_non_finite_values():
    assert format_mean_se([1.0, None, float("nan"), 3.0]) == "2 ± 1"
    assert format_mean_se([0.25], ".3f") == "0.250"
    assert format_mean_se([None, float("inf")]) == "n/a"


def test_a_diverged_run_leaves_the_group_curve_instead_of_cutting_it():
    from rnnmem.plot import _mean_and_se

    def run(values):
        return dict(rows=[dict(step=10 * i, val_ratio=v) for i, v in enumerate(values)])

    steps, mean, se = _mean_and_se([run([1.0, 0.5, 0.3, 0.1]), run([1.0, 0.7, 0.5, 0.3]),
                                    run([3.0, float("nan")])], "val_ratio")
    assert steps == [0, 10, 20, 30]
    assert np.allclose(mean, [5 / 3, 0.6, 0.4, 0.2]) and se[0] > 0 and se[1] > 0
