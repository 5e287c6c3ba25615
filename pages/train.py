"""Train: a tiny GPT-2 learns from the lecture world while you watch its loss fall and its attention form."""

import numpy as np
import streamlit as st

from attention.figures import train as figures
from attention.train import predict
from attention.train.loop import PROBE, Settings, encode_probe
from ui import page, params, sidebar, train_cache
from ui.train_jobs import DONE, FAILED

HEADS = (1, 2, 4, 8, 16)  # divide d_model = 64
PROMPT = "he used the mouse and the keyboard of the"
TOP_K = 8

view = sidebar.current()
page.header(
    "Train: watch attention being learned",
    "W_q, W_k and W_v are not designed: they start random and are learned by predicting the next word. Train a "
    "small GPT-2 on sentences from the lecture world and watch its loss fall and its heads find a pattern.",
)
notes = st.container()  # filled once the controls below have read the link

# ---------------------------------------------------------------- settings, bound to the link
base = Settings()
c = st.columns([1.2, 1, 1, 1, 1])
train_cache.linked("train_scale", True, params.parse_bool)
scale = c[0].toggle("Scale by √d_head", key="train_scale", help="divide QKᵀ by √d_head before the softmax")
train_cache.linked("train_heads", base.n_head, params.parse_choice(lambda: HEADS))
n_head = c[1].selectbox("n_head", HEADS, key="train_heads", help="heads per layer; d_head = d_model / n_head")
c[1].caption(f"d_model {base.d_model} → d_head {base.d_model // n_head}")
train_cache.linked("train_layers", base.n_layer, params.parse_choice(lambda: (1, 2)))
n_layer = c[2].radio(
    "n_layer", (1, 2), key="train_layers", horizontal=True, help="1 layer cannot form an induction head"
)
train_cache.linked("train_seed", 0, params.parse_int(0, 2**31 - 1))
seed = c[3].number_input("seed", 0, 2**31 - 1, key="train_seed", help="the same seed gives the same run")
train_cache.linked("train_steps", 300, params.parse_int(1, train_cache.MAX_STEPS))
steps = c[4].number_input(f"steps (≤ {train_cache.MAX_STEPS})", 1, train_cache.MAX_STEPS, step=50, key="train_steps")
train_cache.linked("probe", PROBE, params.parse_text)
probe = st.text_input("Probe sentence: the attention snapshots are taken on it", key="probe", max_chars=300)
for key, value, default in [("train_scale", scale, True), ("train_heads", n_head, base.n_head),
                            ("train_layers", n_layer, base.n_layer), ("train_seed", seed, 0),
                            ("train_steps", steps, 300), ("probe", probe, PROBE)]:  # fmt: skip
    sidebar.claim(key, value, default)

with notes:
    page.notices()
try:
    settings = Settings(steps=int(steps), seed=int(seed), scale=bool(scale), n_layer=n_layer, n_head=n_head).check()
    encode_probe(probe, settings.n_seq)
except ValueError as err:
    st.error(page.md_escape(err), icon="⚠️")
    page.halt()

# ---------------------------------------------------------------- train, or join the same training
job = train_cache.job(settings, probe)
status = job.status()
st.button("Train", type="primary", icon=":material/model_training:", disabled=not train_cache.may_press(job, status),
          on_click=train_cache.press, args=(job,))  # fmt: skip
if train_cache.refused(job):
    other = train_cache.busy_elsewhere(job)
    st.warning(f"Your other training is still running (step {other.step} of {other.steps}). One training per "
               "session at a time: wait for it to finish, then press Train again.", icon="⏳")  # fmt: skip
if status.busy:
    train_cache.follow(job)  # another session started these settings: watch the same training
status = job.status()
if note := train_cache.stopped_text(job, status):
    st.info(note, icon=":material/stop_circle:")
    page.halt()
if status.busy:
    train_cache.watch(job, "train", view.present)
    page.halt()
if status.state == FAILED:
    st.error(f"The training failed: {page.md_escape(status.error)}. Press Train to try again.")
if status.state != DONE:
    st.info(f"Press Train: {settings.steps} steps take about {settings.steps * 0.015 + 2:.0f} s on a quiet machine. "
            "Anyone opening this page's link gets the same run, trained once.", icon="ℹ️")  # fmt: skip
    page.halt()
result = job.result
st.caption(f"Trained {len(result.losses)} steps in {result.seconds:.1f} s. The same settings and seed give the same "
           "weights: the link reproduces this run.")  # fmt: skip
page.chart(figures.loss_curve(result.losses, settings.steps, result.unigram_loss, view.present), "train-loss")

# ---------------------------------------------------------------- snapshots of attention
st.subheader("Watch attention being learned")
st.markdown(f"A snapshot of the chosen head's weights on the probe sentence every {train_cache.SNAPSHOT_EVERY} "
            "steps: before training the weights are near uniform noise, then a pattern forms. An induction head "
            "(layer 1) looks from a repeated word to the word that followed it last time.")  # fmt: skip
c = st.columns(3)
layer = page.url_choice(
    "Layer", range(settings.n_layer), "train_layer", default=settings.n_layer - 1, widget=c[0].selectbox
)
head = page.url_choice("Head", range(settings.n_head), "train_head", default=0, widget=c[1].selectbox)
steps_done = [int(s) for s in result.snapshot_steps]
snap = page.url_choice("After step", steps_done, "snap", default=steps_done[-1], widget=st.select_slider)
i = steps_done.index(snap)
page.chart(figures.snapshot_heatmap(result.snapshots[i, layer, head], result.probe_tokens, snap, view.present),
           f"train-snapshot-L{layer}-H{head}-{snap}")  # fmt: skip
page.chart(figures.along_the_way(result.losses, result.snapshot_steps, result.induction[:, layer, head],
                                 result.copy_accuracy, snap, view.present), "train-along")  # fmt: skip
best = result.induction[i].max()
st.caption(f"At step {snap}: this head's induction score {result.induction[i, layer, head]:.2f} (best head "
           f"{best:.2f}); the model copies a repeated run's next word {result.copy_accuracy[i]:.0%} of the time.")  # fmt: skip

# ---------------------------------------------------------------- predictions before and after
st.subheader("Predictions before and after training")
train_cache.linked("prompt", PROMPT, params.parse_text)
prompt = st.text_input("Prompt: the model predicts the next word", key="prompt", max_chars=300)
sidebar.claim("prompt", prompt, PROMPT)
try:
    ids, tokens, unknown = predict.encode_prompt(prompt, settings.n_seq)
except ValueError as err:
    st.warning(page.md_escape(err), icon="⚠️")
else:
    if unknown:
        st.info("Not in the model's vocabulary (read as <unk>): " + page.md_escape(", ".join(unknown)), icon="ℹ️")
    before = predict.top_k(predict.next_token_probs(predict.initial_params(settings), result.config, ids), TOP_K)
    after = predict.top_k(predict.next_token_probs(result.params, result.config, ids), TOP_K)
    page.chart(figures.prediction_bars(before, after, view.present), "train-predictions")

# ---------------------------------------------------------------- √d_head in training
st.subheader("Why √d_head: the same run with and without scaling")
with_s, without_s = train_cache.comparison_settings(settings)
st.markdown(f"At d_model {with_s.d_model} and one head, d_head = {with_s.d_model // with_s.n_head}: unscaled scores "
            "start about √d_head = 8 times larger, so the softmax saturates (its largest weight nears 1). A saturated "
            "softmax passes little gradient back to its input S = QKᵀ/√d_head (first panel): that is the gradient "
            "the scaling keeps from vanishing. The gradient reaching W_q and W_k (second panel) is that one times K or "
            "Q, and without the scale also √d_head times larger, so it need not be smaller; what the unscaled run "
            "loses is the signal through the softmax, and its loss falls more slowly. Same seed, steps and data: "
            "only the scaling differs.")  # fmt: skip
pair = train_cache.comparison(settings, probe)
pair_status = pair.status()
st.button("Train both", icon=":material/compare_arrows:", disabled=not train_cache.may_press(pair, pair_status),
          on_click=train_cache.press, args=(pair,))  # fmt: skip
if train_cache.refused(pair):
    st.warning("Your other training is still running: one per session at a time.", icon="⏳")
if pair_status.busy:
    train_cache.follow(pair)
pair_status = pair.status()
if note := train_cache.stopped_text(pair, pair_status, "comparison"):
    st.info(note, icon=":material/stop_circle:")
elif pair_status.busy:
    train_cache.watch(pair, "train-compare", view.present)
elif pair_status.state == FAILED:
    st.error(f"The comparison failed: {page.md_escape(pair_status.error)}. Press the button to try again.")
elif pair_status.state == DONE:
    scaled, unscaled = pair.result
    runs = {"with √d_head": scaled, "without": unscaled}
    page.chart(figures.scaling_comparison(runs, view.present), "train-scaling")
    grad = lambda r: np.linalg.norm(r.softmax_grad[-50:], axis=1).mean()  # noqa: E731 - both layers, last 50 steps
    st.caption(f"Last 50 steps: largest weight on average {scaled.saturation[-50:].mean():.2f} with √d_head, "
               f"{unscaled.saturation[-50:].mean():.2f} without; ‖∂loss/∂S‖ {grad(scaled):.2g} with, "
               f"{grad(unscaled):.2g} without ({grad(scaled) / grad(unscaled):.1f}×). Curves are means over "
               f"{figures.SMOOTH} steps.")  # fmt: skip

page.formula(
    r"\mathcal{L} = -\frac{1}{n}\sum_t \log p_\theta(x_{t+1}\mid x_{\le t}),\quad"
    r"\theta \leftarrow \mathrm{AdamW}(\theta, \nabla_\theta \mathcal{L});\quad"
    r"\mathrm{softmax}\!\left(QK^\top/\sqrt{d_\text{head}}\right)V",
    caption="The loss is the cross-entropy of the next word; every weight, W_q, W_k and W_v included, moves "
    "against its gradient (AdamW, warm-up then cosine decay, gradient clipped to norm 1).",
)
