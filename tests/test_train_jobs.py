"""The /train limits as plain threads: at most `limit` trainings at once, first come first served, one training
per job however many sessions ask, one per session; and the untrained model the page shows is train()'s step 0."""

import threading
import time

import numpy as np

from attention.train import predict
from attention.train.loop import Settings, encode_probe, train
from attention.train.model import attention_weights, forward
from ui.train_jobs import DONE, FAILED, RUNNING, WAITING, Gate, Job, may_start


def blocking_work(release, log, name):  # a "training" that runs until `release` is set, logging start and end
    def work(progress, should_stop):
        log.append(("start", name))
        progress(1, 2, 0.5)
        release.wait(10)
        log.append(("end", name))
        return name

    return work


def wait_for(condition, timeout=10):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_the_gate_runs_at_most_two_and_the_rest_wait_in_order():
    gate, release, log = Gate(2), threading.Event(), []
    jobs = [Job(blocking_work(release, log, i), gate).start() for i in range(5)]
    wait_for(lambda: sum(j.status().state == RUNNING for j in jobs) == 2)
    time.sleep(0.1)  # a third would have started by now if the gate let it
    states = [j.status() for j in jobs]
    assert sum(s.state == RUNNING for s in states) == 2 and sum(s.state == WAITING for s in states) == 3
    waiting = [s for s in states if s.state == WAITING]
    assert sorted(s.waiting_ahead for s in waiting) == [0, 1, 2] and {s.running_elsewhere for s in waiting} == {2}
    release.set()
    assert all(j.wait(10) for j in jobs)
    running, most = 0, 0
    for kind, _ in log:
        running += 1 if kind == "start" else -1
        most = max(most, running)
    assert most == 2 and [j.result for j in jobs] == list(range(5))
    assert [n for kind, n in log if kind == "start"][2:] == [2, 3, 4]  # the waiting ones in order of arrival


def test_a_job_asked_for_by_many_sessions_trains_once():
    gate, release, log = Gate(2), threading.Event(), []
    job = Job(blocking_work(release, log, "shared"), gate)
    threads = [threading.Thread(target=job.start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    release.set()
    assert job.wait(10) and job.status().state == DONE
    job.start()  # done: asking again trains nothing
    time.sleep(0.05)
    assert log == [("start", "shared"), ("end", "shared")] and job.status().losses == (0.5,)


def test_one_training_per_session_and_a_failure_says_why_and_can_be_retried():
    gate, release = Gate(2), threading.Event()
    first, second = Job(blocking_work(release, [], 1), gate), Job(blocking_work(release, [], 2), gate)
    assert may_start(None, first) and may_start(first, first)
    first.start()
    assert not may_start(first, second)
    release.set()
    first.wait(10)
    assert may_start(first, second)
    calls = []

    def flaky(progress, should_stop):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("out of memory, try fewer steps")
        return "ok"

    job = Job(flaky, gate).start()
    job.wait(10)
    assert job.status().state == FAILED and "try fewer steps" in job.status().error
    job.start().wait(10)
    assert job.result == "ok"


def test_cancel_stops_the_run_and_the_untrained_model_is_step_zero_of_train():
    s = Settings(steps=200, seed=5, n_layer=1, n_head=2, n_sequences=64)
    job = Job(lambda progress, stop: train(s, progress, should_stop=stop), Gate(1)).start()
    wait_for(lambda: job.status().step >= 1, timeout=120)
    job.cancel()
    assert job.wait(120) and job.result.stopped and len(job.result.losses) < 200
    ids, _ = encode_probe("the dog ate the apple", s.n_seq)
    start = train(s.__class__(**{**vars(s), "steps": 1}), probe_text="the dog ate the apple")  # snapshot 0
    _, cache = forward(predict.initial_params(s), ids[None], s.config())
    np.testing.assert_allclose(attention_weights(cache)[:, 0], start.snapshots[0], atol=1e-6)


def test_a_shared_training_stops_only_when_every_session_that_wants_it_has_left():
    s = Settings(steps=1500, seed=6, n_layer=1, n_head=2, n_sequences=64)
    job = Job(lambda progress, stop: train(s, progress, should_stop=stop), Gate(1))
    alice, bob = object(), object()
    job.join(alice).start()
    job.join(bob).start()  # bob opened the same link: the same run, not a second one
    wait_for(lambda: job.status().step >= 1, timeout=120)
    assert job.status().watchers == 2 and job.leave(alice) == 1
    time.sleep(0.2)
    assert job.status().state == RUNNING and not job.cancelled  # bob still wants it
    assert job.leave(bob) == 0
    assert job.wait(120)
    status = job.status()
    assert status.state == DONE and status.stopped and job.result.stopped and status.step < 1500
    job.join(bob).start()  # pressing Train again runs it from the start
    wait_for(lambda: job.status().state == RUNNING, timeout=120)
    assert not job.status().stopped and job.leave(bob) == 0 and job.wait(120)


def test_a_queued_training_stopped_and_wanted_again_runs():
    gate, release = Gate(1), threading.Event()
    holder = Job(blocking_work(release, [], "holder"), gate).start()
    wait_for(lambda: holder.status().state == RUNNING)
    queued, alice = Job(blocking_work(release, [], "queued"), gate), object()
    queued.join(alice).start()
    assert queued.status().state == WAITING and queued.leave(alice) == 0 and queued.cancelled
    queued.join(alice)  # pressed Train again before its turn came
    release.set()
    assert queued.wait(10) and not queued.status().stopped and queued.result == "queued"
    stopped = Job(blocking_work(threading.Event(), [], "never"), gate)
    stopped.join(alice).start()
    wait_for(lambda: stopped.status().state == RUNNING)
    stopped.leave(alice)  # blocking_work ignores should_stop: the flag is what a real training reads
    assert stopped.cancelled
