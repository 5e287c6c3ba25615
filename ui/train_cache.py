"""/train's trainings, shared across sessions: one Job per settings (a lecture hall opening one link trains once),
at most LIMIT at once on the server, one at a time per session; and the live view that watches a Job.

    job = train_cache.job(settings, probe)       # cached by settings: every session gets the same Job
    if train_cache.request(job): ...             # False: this session's other training is still running
    train_cache.watch(job, present)              # progress bar and loss curve, updated while it runs
    train_cache.stop(job)                        # this session stops wanting it; the run ends when no one does
"""

from dataclasses import astuple, replace

import streamlit as st

from attention.figures.train import loss_curve
from attention.train.loop import Settings, train
from ui.train_jobs import DONE, FAILED, RUNNING, WAITING, Gate, Job, may_start

LIMIT = 2  # trainings at once on this server (2 cores here)
MAX_RUNS = 16  # finished trainings kept: each holds ~1 MB (weights, curves, snapshots)
MAX_STEPS = 1500  # about 25 s at 15 ms a step
SNAPSHOT_EVERY = 50
COMPARE = dict(d_model=64, n_head=1)  # d_head 64: large enough that unscaled scores saturate the softmax
CURRENT = "train_job"  # st.session_state: the Job this session started or joined last
REFUSED = "train_refused"  # st.session_state: the Job whose Train press was refused in this run
LEFT = "train_left"  # st.session_state: {id(Job): sessions still wanting it} for the trainings this session stopped
ME = "train_me"  # st.session_state: this session's token in Job.watchers


@st.cache_resource(show_spinner=False)
def gate():  # -> the server's one Gate
    return Gate(LIMIT)


@st.cache_resource(max_entries=MAX_RUNS, show_spinner=False)
def _job(fields, probe):  # fields = astuple(Settings): a plain, hashable key
    settings = Settings(*fields)
    return Job(lambda progress, stop: train(settings, progress, SNAPSHOT_EVERY, probe, stop), gate())


def job(settings, probe):  # (Settings, probe sentence) -> the Job every session with these shares
    return _job(astuple(settings.check()), probe)


def comparison_settings(settings):  # -> (with √d_head, without): the same run at d_head 64
    base = replace(settings, **COMPARE)
    return replace(base, scale=True), replace(base, scale=False)


@st.cache_resource(max_entries=MAX_RUNS, show_spinner=False)
def _comparison(fields, probe):
    runs = comparison_settings(Settings(*fields))

    def work(progress, stop):  # both runs in one slot, one after the other; progress counts both
        out = []
        for i, s in enumerate(runs):
            out.append(train(s, lambda step, steps, loss, i=i: progress(i * steps + step, 2 * steps, loss),
                             SNAPSHOT_EVERY, probe, stop))  # fmt: skip
        return tuple(out)

    return Job(work, gate())


def comparison(settings, probe):  # -> Job whose result is (TrainResult with √d_head, without)
    return _comparison(astuple(settings.check()), probe)


def me():  # -> this session's token (an object kept in its session state)
    return st.session_state.setdefault(ME, object())


def request(job):  # -> bool: start (or join) `job` unless this session's other training still runs
    if not may_start(st.session_state.get(CURRENT), job):
        return False
    st.session_state.setdefault(LEFT, {}).pop(id(job), None)
    st.session_state[CURRENT] = job.join(me()).start()
    return True


def may_press(job, status):  # -> bool: the Train button is live (not while watching it, nor once it is done)
    if status.busy:
        return left(job) is not None  # this session stopped watching: it may join again
    return status.state != DONE or status.stopped


def follow(job):  # -> bool: another session started `job`; watch it too, unless this session stopped it
    return id(job) not in st.session_state.get(LEFT, {}) and request(job)


def stop(job):  # on_click of Stop: this session no longer wants `job`; it stops when no other session does
    others = st.session_state.setdefault(LEFT, {})[id(job)] = job.leave(me())
    if not others and job.status().state == RUNNING:
        job.wait(30)  # the run ends at its next step: let the page that follows show it stopped
    if st.session_state.get(CURRENT) is job:
        del st.session_state[CURRENT]


def left(job):  # -> int | None: sessions still wanting `job` when this one stopped it (None: it did not)
    return st.session_state.get(LEFT, {}).get(id(job))


def stopped_text(job, status, what="training"):  # -> str | None: what the page says about a stopped `job`
    if status.stopped:
        return (f"The {what} was stopped at step {status.step} of {status.steps}. Press the button to run it again "
                "from the start (the same settings give the same run).")  # fmt: skip
    others = left(job)
    if others is None or not status.busy:
        return None
    if not others:  # queued behind other trainings: it ends as soon as its turn comes
        return f"The {what} is stopping. Press the button to run it again from the start."
    return (f"You stopped watching this {what}. {others} other viewer{'s' if others != 1 else ''} of this link "
            "still want it, so it goes on; press the button to watch it again.")  # fmt: skip


def press(job):  # on_click of a Train button (a callback: it runs before the page, on the click's own rerun)
    if not request(job):
        st.session_state[REFUSED] = job


def refused(job):  # -> bool: this run's press of `job` was refused (this session's other training still runs)
    if st.session_state.get(REFUSED) is job:
        del st.session_state[REFUSED]
        return busy_elsewhere(job) is not None
    return False


def busy_elsewhere(job):  # -> the Status of this session's other running training, or None
    current = st.session_state.get(CURRENT)
    if current is None or current is job:
        return None
    status = current.status()
    return status if status.busy else None


def waiting_text(status):  # Status (WAITING) -> str
    return (f"{status.running_elsewhere} trainings are running on this server, the most it runs at once ({LIMIT}). "
            f"Yours starts as soon as one finishes ({status.waiting_ahead} waiting before it); keep this page open.")  # fmt: skip


def watch(job, key, present=False, unigram=None):
    """While `job` runs: a progress bar and the loss curve, redrawn every half second (a fragment, so the rest of
    the page stays); when it ends, the whole page reruns to show the results."""

    @st.fragment(run_every=0.5)
    def live():
        status = job.status()
        if status.state in (DONE, FAILED) or left(job) is not None:  # ended, or this session pressed Stop
            st.rerun()
        if status.busy:
            st.button("Stop", icon=":material/stop_circle:", key=f"{key}-stop", on_click=stop, args=(job,),
                      help="stop this training; if other viewers of this link are watching it, it goes on for them")  # fmt: skip
        if status.state == WAITING:
            st.info(waiting_text(status), icon="⏳")
        else:
            last = f", loss {status.losses[-1]:.3f}" if status.losses else ""
            st.progress(status.step / max(status.steps, 1), text=f"step {status.step} of {status.steps}{last}")
            st.plotly_chart(loss_curve(status.losses, status.steps, unigram, present), key=f"{key}-live",
                            theme=None, width="stretch")  # fmt: skip

    live()


def linked(key, default, parser):  # -> the widget state for `key`, seeded from the link on the session's first run
    """A /train control whose value lives in the link: read (validated by `parser`, a ui.params parser) the first
    time; a bad value falls back to the default with a notice. Call sidebar.claim after the widget."""
    from ui import page, params

    page.seed_from_link(key, lambda raw: params.parse_value(key, raw, parser, default))
    st.session_state.setdefault(key, default)
    return st.session_state[key]
