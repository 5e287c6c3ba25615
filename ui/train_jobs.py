"""Trainings that run in background threads, shared by every session that asks for the same settings.

Pure Python (threading, no Streamlit), so the limits can be tested with plain threads:
    gate = Gate(2)                       # at most 2 trainings at once on this server; the rest queue
    job = Job(lambda progress, should_stop: train(s, progress, should_stop=should_stop), gate).start()
    job.status()                         # -> Status(state, step, steps, losses, waiting_ahead)
A second session with the same settings gets the same Job (ui.train_cache caches it) and watches it: one training.
Sessions join() the Job they want and leave() it when they stop wanting it; the run stops once nobody wants it.
"""

import threading
from contextlib import contextmanager
from dataclasses import dataclass

NEW, WAITING, RUNNING, DONE, FAILED = "new", "waiting", "running", "done", "failed"


class Gate:
    """A server-wide limit on concurrent trainings; the ones over it wait in order of arrival."""

    def __init__(self, limit):
        self.limit, self.running, self._queue = limit, 0, []
        self._cond = threading.Condition()

    @contextmanager
    def slot(self, ticket=None):  # blocks until fewer than `limit` trainings run; ticket: who is waiting
        ticket = object() if ticket is None else ticket
        with self._cond:
            self._queue.append(ticket)
            while self.running >= self.limit or self._queue[0] is not ticket:
                self._cond.wait()
            self._queue.pop(0)
            self.running += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self.running -= 1
                self._cond.notify_all()

    def ahead_of(self, ticket):  # -> int: trainings queued before `ticket` (0 when it is not queued)
        with self._cond:
            return self._queue.index(ticket) if ticket in self._queue else 0


@dataclass(frozen=True)
class Status:
    state: str  # NEW, WAITING, RUNNING, DONE or FAILED
    step: int
    steps: int
    losses: tuple  # the loss of every step done so far
    waiting_ahead: int  # trainings queued before this one (WAITING only)
    running_elsewhere: int  # trainings holding the server's slots (WAITING only)
    error: str = ""
    stopped: bool = False  # DONE because everyone stopped it: the result is partial, and start() runs it anew
    watchers: int = 0  # sessions that want this training

    @property
    def busy(self):
        return self.state in (WAITING, RUNNING)


class Job:
    """One training: `work(progress, should_stop) -> result` run once in a thread, under the gate's limit."""

    def __init__(self, work, gate):
        self.work, self.gate = work, gate
        self.state, self.step, self.steps, self.losses = NEW, 0, 0, []
        self.result, self.error, self.cancelled = None, "", False
        self.watchers = set()  # tokens of the sessions that want this training
        self._lock, self._done = threading.Lock(), threading.Event()

    def start(self):  # -> self; starts the thread unless it already ran or runs (a failed or cancelled job reruns)
        with self._lock:
            if self.state in (NEW, FAILED) or (self.state == DONE and self.cancelled):
                self.state, self.step, self.losses, self.error, self.cancelled = WAITING, 0, [], "", False
                self._done.clear()
                threading.Thread(target=self._run, daemon=True, name="training").start()
        return self

    def _progress(self, step, steps, loss):
        with self._lock:
            self.step, self.steps = step, steps
            self.losses.append(float(loss))

    def _run(self):
        try:
            with self.gate.slot(self):
                with self._lock:
                    self.state = RUNNING
                result = self.work(self._progress, lambda: self.cancelled)
            with self._lock:
                self.result, self.state = result, DONE
        except Exception as err:  # a training that fails says why on the page; the next start() retries
            with self._lock:
                self.error, self.state = f"{type(err).__name__}: {err}", FAILED
        finally:
            self._done.set()

    def cancel(self):  # the run stops at its next step; its partial result is not kept as the answer
        self.cancelled = True

    def join(self, who):  # -> self: session `who` wants this training
        with self._lock:
            self.watchers.add(who)
            if self.state == WAITING:  # stopped while queued, then wanted again: it has not started, let it run
                self.cancelled = False
        return self

    def leave(self, who):  # -> int: sessions still wanting it; when none is left, a busy run stops at its next step
        with self._lock:
            self.watchers.discard(who)
            left, busy = len(self.watchers), self.state in (WAITING, RUNNING)
        if not left and busy:
            self.cancel()
        return left

    def wait(self, timeout=None):  # -> bool: finished (done or failed) within timeout
        return self._done.wait(timeout)

    def status(self):  # -> Status: a consistent copy for the page to draw
        with self._lock:
            state, step, steps, losses, error = self.state, self.step, self.steps, tuple(self.losses), self.error
            stopped, watchers = state == DONE and self.cancelled, len(self.watchers)
        ahead = self.gate.ahead_of(self) if state == WAITING else 0
        running = self.gate.running if state == WAITING else 0
        return Status(state, step, steps, losses, ahead, running, error, stopped, watchers)


def may_start(current, job):  # (the session's Job | None, the Job it asks for) -> bool: one training per session
    """A session starts (or joins) a training only when its previous one is finished, or is this same one."""
    return current is None or current is job or not current.status().busy
