"""Thread choice: affinity and the probe."""

import os

import numba

from accessrl.machine import available_cores, choose_threads, probe_report


def test_available_cores_follows_the_affinity_mask():
    assert available_cores() == len(os.sched_getaffinity(0))


def test_choose_threads():
    assert choose_threads(3) == 3  # an explicit number is kept
    auto = choose_threads("auto")
    assert 1 <= auto <= min(available_cores(), numba.config.NUMBA_NUM_THREADS)
    report = probe_report()
    assert report["chosen"] == auto and report["cores"] >= 1
    if report["cores"] > 1:  # the choice is the probe's: parallel only when clearly faster
        assert (auto > 1) == (report["one_thread_s"] >= 1.15 * report["all_threads_s"])
