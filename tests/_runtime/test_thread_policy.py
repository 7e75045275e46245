"""The load-aware thread count: one thread while other work would oversubscribe the cores."""

import pytest
import torch

from spikestep._runtime import thread_policy


@pytest.fixture
def policy(monkeypatch):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    thread_policy._reset_for_tests()
    monkeypatch.setattr(thread_policy, "_cores", lambda: 2)
    monkeypatch.delenv(thread_policy.ENV, raising=False)
    runnable = {"now": 2}
    monkeypatch.setattr(thread_policy, "_runnable_tasks", lambda: runnable["now"])
    monkeypatch.setattr(thread_policy, "_own_runnable_threads", lambda: None)  # counted as the torch threads
    clock = {"t": 100.0}

    def tick(n_runnable):
        runnable["now"] = n_runnable
        clock["t"] += 1.0
        return thread_policy.adapt(now=clock["t"])

    yield tick
    thread_policy._reset_for_tests()
    torch.set_num_threads(before)


def test_other_work_that_would_oversubscribe_the_cores_is_detected():
    assert not thread_policy.oversubscribed(runnable=2, current=2, full=2, cores=2)  # ourselves only
    assert thread_policy.oversubscribed(runnable=4, current=2, full=2, cores=2)  # another 2-thread job
    assert thread_policy.oversubscribed(runnable=2, current=1, full=2, cores=2)  # one other task
    assert not thread_policy.oversubscribed(runnable=1, current=1, full=2, cores=2)


def test_a_quiet_machine_keeps_the_full_thread_count(policy):
    assert [policy(2) for _ in range(5)] == [2, 2, 2, 2, 2]


def test_two_readings_of_load_drop_to_one_thread_and_quiet_restores_it(policy):
    assert policy(4) == 2  # one reading is not enough (a passing task)
    assert policy(4) == 1
    assert policy(3) == 1  # the others still hold a core
    assert policy(1) == 1  # mixed readings in the window: keep
    assert policy(1) == 1
    assert policy(1) == 2  # three quiet readings: back to the full count
    assert torch.get_num_threads() == 2


def test_a_count_the_user_sets_becomes_the_full_count(policy):
    policy(2)
    torch.set_num_threads(1)
    assert [policy(1) for _ in range(3)] == [1, 1, 1]  # the user's 1 is respected, never raised


def test_the_switch_turns_it_off(policy, monkeypatch):
    monkeypatch.setenv(thread_policy.ENV, "0")
    assert [policy(8) for _ in range(4)] == [2, 2, 2, 2]


def test_readings_are_rate_limited():
    thread_policy._reset_for_tests()
    thread_policy.adapt(now=1000.0)
    # Within INTERVAL nothing is read: the count is returned as it is.
    assert thread_policy.adapt(now=1000.0 + thread_policy.INTERVAL / 2) == torch.get_num_threads()
    thread_policy._reset_for_tests()


def test_this_process_own_runnable_threads_are_not_other_work(policy, monkeypatch):
    # 2 torch threads spinning and a kernel pool thread: 3 runnable tasks, all ours, on 2 cores.
    monkeypatch.setattr(thread_policy, "_own_runnable_threads", lambda: 3)
    assert [policy(3) for _ in range(3)] == [2, 2, 2]
    assert [policy(5) for _ in range(3)][-1] == 1  # two more tasks of another process


def test_own_runnable_threads_counts_at_least_the_calling_thread():
    own = thread_policy._own_runnable_threads()
    assert own is None or own >= 1
