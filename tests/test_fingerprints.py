"""The registry's experiments train the same networks as the code that wrote the fingerprints."""

import json

import pytest
from fingerprints import FILE, fingerprint, selected_jobs

EXPECTED = json.loads(FILE.read_text())
JOBS = selected_jobs()


def test_every_fingerprinted_job_is_still_in_the_registry():
    assert set(JOBS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_job_trains_the_same_weights(name):
    assert fingerprint(JOBS[name]) == EXPECTED[name]
