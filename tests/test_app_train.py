"""/train through AppTest on tiny step counts: the link's settings reach the trainer, the figures hold the run's
own numbers (compared with a training run outside the page), a second session joins the first one's training,
and bad links get a notice."""

import threading
from dataclasses import astuple

import numpy as np
from plotly_spec import figures, trace_values
from streamlit.testing.v1 import AppTest

from attention.train import predict
from attention.train.loop import PROBE, Settings, train
from ui import params, train_cache
from ui.train_cache import LIMIT
from ui.train_jobs import Job

APP = str(params.__file__).replace("ui/params.py", "app.py")
LINK = {"train_steps": "3", "train_seed": "7", "train_heads": "2", "train_layers": "1"}
SETTINGS = Settings(steps=3, seed=7, n_head=2, n_layer=1)


def app(query):  # -> AppTest after its first run on /train
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params.update(query)
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    return at


def trained(at, settings=SETTINGS):  # press Train, wait for the shared job, rerun: the page shows the results
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception, at.exception
    job = train_cache._job(astuple(settings), PROBE)
    assert job.wait(240), "the training did not finish"
    at.run()
    assert not at.exception, at.exception
    return job


def test_link_sets_the_run_and_the_page_shows_that_run():
    at = app(LINK)
    assert (at.number_input(key="train_steps").value, at.number_input(key="train_seed").value) == (3, 7)
    assert (at.selectbox(key="train_heads").value, at.radio(key="train_layers").value) == (2, 1)
    assert any("d_head 32" in c.value for c in at.caption)
    job = trained(at)
    reference = train(SETTINGS, snapshot_every=train_cache.SNAPSHOT_EVERY, probe_text=PROBE)  # outside the page
    loss, snapshot = figures(at)[:2]
    np.testing.assert_allclose(trace_values(loss, "y"), reference.losses, rtol=1e-6)
    np.testing.assert_allclose(trace_values(snapshot, "z"), reference.snapshots[-1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(job.result.params["wte.weight"], reference.params["wte.weight"], atol=1e-6)
    assert at.select_slider(key="snap").options == ["0", "3"]
    at.select_slider(key="snap").set_value(0).run()
    np.testing.assert_allclose(trace_values(figures(at)[1], "z"), reference.snapshots[0, 0, 0], atol=1e-6)
    before, after = trace_values(figures(at)[3], "x", 0), trace_values(figures(at)[3], "x", 1)
    ids, _, _ = predict.encode_prompt(at.text_input(key="prompt").value, SETTINGS.n_seq)
    for bars, weights in ((before, predict.initial_params(SETTINGS)), (after, reference.params)):
        probs = predict.next_token_probs(weights, reference.config, ids)
        np.testing.assert_allclose(bars[::-1], np.sort(probs)[::-1][: len(bars)], rtol=1e-5)
    assert (at.query_params["snap"], at.query_params["train_steps"]) == ("0", "3")


def test_a_second_session_with_the_same_link_joins_the_training_instead_of_training_again():
    link = LINK | {"train_seed": "8"}
    first, second = app(link), app(link)
    job = trained(first, Settings(steps=3, seed=8, n_head=2, n_layer=1))
    second.run()
    assert not second.exception and len(figures(second)) >= 3  # the results, without pressing Train
    assert train_cache._job(astuple(Settings(steps=3, seed=8, n_head=2, n_layer=1)), PROBE) is job
    assert next(b for b in second.button if b.label == "Train").disabled  # nothing left to train


def test_bad_links_fall_back_with_a_notice_and_a_bad_probe_says_what_to_do():
    at = app({"train_steps": "99999", "train_heads": "3", "train_scale": "maybe"})
    notes = " ".join(w.value for w in at.warning)
    assert "train_steps" in notes and "train_heads" in notes and "train_scale" in notes
    assert at.number_input(key="train_steps").value == 300 and at.selectbox(key="train_heads").value == 4
    at.text_input(key="probe").set_value("   ").run()
    assert not at.exception and "probe sentence has no words" in at.error[0].value


def test_scaling_comparison_trains_both_runs_at_d_head_64():
    at = app(LINK | {"train_seed": "9"})
    trained(at, Settings(steps=3, seed=9, n_head=2, n_layer=1))
    next(b for b in at.button if b.label == "Train both").click().run()
    pair = train_cache._comparison(astuple(Settings(steps=3, seed=9, n_head=2, n_layer=1)), PROBE)
    assert pair.wait(240)
    at.run()
    assert not at.exception, at.exception
    scaled, unscaled = pair.result
    assert (scaled.config.d_head, scaled.config.scale, unscaled.config.scale) == (64, True, False)
    fig = figures(at)[-1]
    np.testing.assert_allclose(trace_values(fig, "y", 3)[-1], scaled.losses.mean(), rtol=1e-5)  # 3 steps < SMOOTH
    np.testing.assert_allclose(trace_values(fig, "y", 7)[-1], unscaled.losses.mean(), rtol=1e-5)
    for first, run in ((0, scaled), (4, unscaled)):  # ‖∂loss/∂S‖ over both layers, then ‖∇W_q, ∇W_k‖
        ds = np.linalg.norm(run.softmax_grad.astype(np.float64), axis=1).mean()
        qk = np.linalg.norm(run.grad_norm_qk.astype(np.float64).reshape(3, -1), axis=1).mean()
        np.testing.assert_allclose(trace_values(fig, "y", first)[-1], ds, rtol=1e-5)
        np.testing.assert_allclose(trace_values(fig, "y", first + 1)[-1], qk, rtol=1e-5)


def test_a_session_trains_one_run_at_a_time_and_says_so():
    at = app(LINK | {"train_steps": "1500", "train_seed": "10"})
    next(b for b in at.button if b.label == "Train").click().run()
    long_job = train_cache._job(astuple(Settings(steps=1500, seed=10, n_head=2, n_layer=1)), PROBE)
    try:
        assert long_job.status().busy
        at.number_input(key="train_steps").set_value(3).run()
        next(b for b in at.button if b.label == "Train").click().run()
        assert any("other training is still running" in w.value for w in at.warning)
        short = train_cache._job(astuple(Settings(steps=3, seed=10, n_head=2, n_layer=1)), PROBE)
        assert short.status().state == "new"  # refused: not started
    finally:
        long_job.cancel()
        long_job.wait(120)


def test_past_the_server_limit_a_training_waits_and_the_page_says_so():
    release = threading.Event()
    holders = [Job(lambda progress, stop: release.wait(60), train_cache.gate()).start() for _ in range(LIMIT)]
    try:
        at = app(LINK | {"train_seed": "12"})
        next(b for b in at.button if b.label == "Train").click().run()
        job = train_cache._job(astuple(Settings(steps=3, seed=12, n_head=2, n_layer=1)), PROBE)
        assert job.status().state == "waiting"
        assert any(f"the most it runs at once ({LIMIT})" in i.value for i in at.info), [i.value for i in at.info]
    finally:
        release.set()
    assert job.wait(240) and all(h.wait(10) for h in holders)
    at.run()
    assert not at.exception and any(h.value == "Watch attention being learned" for h in at.subheader)


def test_stop_ends_a_training_and_train_starts_it_again():
    at = app(LINK | {"train_steps": "1500", "train_seed": "13"})
    next(b for b in at.button if b.label == "Train").click().run()
    job = train_cache._job(astuple(Settings(steps=1500, seed=13, n_head=2, n_layer=1)), PROBE)
    try:
        assert job.status().busy and job.status().watchers == 1
        next(b for b in at.button if b.label == "Stop").click().run()
        assert job.wait(120) and job.status().stopped
        at.run()
        assert not at.exception, at.exception
        assert any("was stopped at step" in i.value for i in at.info), [i.value for i in at.info]
        assert not next(b for b in at.button if b.label == "Train").disabled
    finally:
        job.cancel()
        job.wait(120)


def test_stopping_a_shared_training_leaves_it_running_for_the_others():
    link = LINK | {"train_steps": "1500", "train_seed": "14"}
    first, second = app(link), app(link)
    next(b for b in first.button if b.label == "Train").click().run()
    job = train_cache._job(astuple(Settings(steps=1500, seed=14, n_head=2, n_layer=1)), PROBE)
    try:
        second.run()  # the second viewer follows the same training
        assert job.status().watchers == 2
        next(b for b in second.button if b.label == "Stop").click().run()
        assert job.status().busy and job.status().watchers == 1  # the first viewer still wants it
        second.run()
        assert any("1 other viewer of this link still want" in i.value for i in second.info)
        assert not next(b for b in second.button if b.label == "Train").disabled  # it may watch again
    finally:
        job.cancel()
        job.wait(120)


def test_the_sidebar_on_train_keeps_the_other_pages_settings_without_drawing_them():
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params.update({"text": "the bank by the river", "model": "tiny"})
    at.run()
    assert at.text_area(key="sb_text").value == "the bank by the river"
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    labels = {w.label for w in at.sidebar.text_area} | {w.label for w in at.sidebar.selectbox}
    assert not labels and [t.label for t in at.sidebar.toggle] == ["Presentation mode"]
    assert any("settings are on the page" in c.value for c in at.sidebar.caption)
    assert at.query_params["text"] == "the bank by the river"  # the link keeps the view's sentence
    at.switch_page("pages/overview.py").run()
    assert not at.exception, at.exception
    assert at.text_area(key="sb_text").value == "the bank by the river"
    assert at.selectbox(key="sb_model").value == "tiny"
