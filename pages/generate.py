"""Generate: a decoder writes one token at a time; each new token's attention, the next-token bars and the KV cache."""

import streamlit as st

from attention import registry
from attention.figures.generate import cache_picture, heads_at_step, next_token_bars, triangle
from attention.generate import Sampling
from attention.models.loading import ModelUnavailable
from ui import generate_cache, page, params, sidebar

MAX_NEW = 64  # tokens at most on the dashboard
TEMPERATURES = [0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 3.0]
TOP_K = [0, 1, 2, 3, 5, 10, 20, 40, 50, 100]
TOP_P = [1.0, 0.99, 0.95, 0.9, 0.8, 0.7, 0.5, 0.3, 0.1]
MODES = {"greedy": "greedy (most likely)", "sample": "sample"}

settings = sidebar.current()
page.header(
    "Generate: one token at a time",
    "A decoder writes text one token after another. Each new token's query looks back at the keys of every token "
    "before it; those keys and values are kept (the KV cache) instead of being computed again.",
)
page.notices()
model = settings.model
if model == registry.LECTURE:
    st.info("The lecture model has no output head, so it cannot write text. Choose a decoder in the sidebar "
            "(gpt2, smollm2, qwen2.5, qwen3, or tiny).", icon="ℹ️")  # fmt: skip
    page.halt()
sizes = registry.sizes(model)
if sizes is not None and not sizes[-1]:
    st.warning(f"{model} is an encoder: every token sees every other token, so it does not write text one token "
               "at a time. Choose a decoder in the sidebar (gpt2, smollm2, qwen2.5, qwen3, or tiny).", icon="✋")  # fmt: skip
    page.halt()

st.markdown(f"**Prompt** (the sidebar's sentence): {page.md_escape(settings.text)}")
st.caption("The model generates with its own attention: the sidebar's attention temperature and similarity do not "
           "apply here. The sampling temperature below reshapes the next-token probabilities instead.")  # fmt: skip
c1, c2, c3 = st.columns([2, 2, 3])
with c1:
    n_new = page.url_choice("New tokens", list(range(1, MAX_NEW + 1)), key="new", default=16, widget=st.select_slider)
with c2:
    mode = page.url_choice("Choose the next token by", list(MODES), key="mode", default="greedy",
                           widget=st.segmented_control, format_func=MODES.get)  # fmt: skip
sampling = Sampling()
if mode == "sample":
    with c3:
        a, b, c, d = st.columns(4)
        with a:
            temperature = page.url_choice("Temperature", TEMPERATURES, key="temp", default=1.0)
        with b:
            top_k = page.url_choice("Top-k", TOP_K, key="top_k", default=0, help="0 keeps every token")
        with c:
            top_p = page.url_choice("Top-p", TOP_P, key="top_p", default=1.0, help="1 keeps every token")
        with d:
            seed = page.url_choice("Seed", list(range(100)), key="seed", default=0, help="the same seed, the same text")
    sampling = Sampling(greedy=False, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)

if (raw := sidebar.seed_once("gen")) is not None and params.single("gen", raw)[0] == "1":
    st.session_state["gen_on"] = True  # a shared link of a generation regenerates it: the same settings, the same text
st.button("Generate", type="primary", icon=":material/play_arrow:", key="generate", on_click=generate_cache.start)
if not st.session_state.get("gen_on"):
    st.caption("Press Generate: the tokens appear as the model writes them.")
    page.halt()
sidebar.claim("gen", "1", "0")

shown = st.empty()


def show(gen):  # the text so far, while it is being generated
    new = "".join(s.token for s in gen.steps).replace("␣", " ").replace("↵", " ")
    shown.markdown(f"{page.md_escape(settings.text)} **{page.md_escape(new)}**")


try:
    gen = generate_cache.generation(model, settings.text, n_new, sampling, show)
except ModelUnavailable as err:
    page.offer_download(model, err)
    page.halt()
except ValueError as err:
    st.warning(page.md_escape(err), icon="✋")
    page.halt()
new_text = generate_cache.tokenizer(model).decode([s.id for s in gen.steps])
shown.markdown(f"{page.md_escape(settings.text)} **{page.md_escape(new_text)}**")
why = {"max_new_tokens": f"{len(gen.steps)} new tokens, as asked", "end of text": "the end-of-text token",
       "positions": "the model's last position"}[gen.stop]  # fmt: skip
how = "greedy" if sampling.greedy else (f"sampled at temperature {sampling.temperature:g}, top-k {sampling.top_k}, "
                                        f"top-p {sampling.top_p:g}, seed {sampling.seed}")  # fmt: skip
st.caption(f"Stopped at {why}. {len(gen.prompt_ids)} prompt tokens, {how}.")

steps = list(range(len(gen.steps)))
upto = page.url_choice("Step", steps, key="step", default=steps[-1], widget=st.select_slider,
                       format_func=lambda t: f"{t}: “{gen.steps[t].token}”")  # fmt: skip
layer = min(settings.layer, gen.shape[0] - 1)
head = min(settings.head, gen.shape[1] - 1)
current = gen.steps[upto]

left, right = st.columns([3, 2])
with left:
    st.subheader("The newest token's attention, step by step")
    page.chart(triangle(gen, layer, head, upto, settings.present), f"generate-triangle-L{layer}H{head}-{upto}")
    st.caption("The prompt's rows come from its first pass; each step adds the row of the token it read. "
               "Earlier rows stay: the triangle fills in as the text grows. Layer and head: the sidebar's.")  # fmt: skip
with right:
    st.subheader("The next token")
    page.chart(next_token_bars(current, f"Step {upto}: ", settings.present), f"generate-bars-{upto}")
    kept = "every token" if current.kept >= generate_cache.tokenizer(model).get_vocab_size() else f"{current.kept:,}"
    st.caption(f"Grey: the model's probabilities. Blue: after {'greedy choice' if sampling.greedy else 'temperature, top-k and top-p'}; "
               f"{kept} token(s) could be drawn.")  # fmt: skip

st.subheader("The KV cache")
page.chart(cache_picture(gen, upto, settings.present), f"generate-cache-{upto}")
st.caption("Each step stores one new key and one new value per layer (orange) and reads all the stored ones: "
           "the cache grows by one column a token, so nothing before it is computed again.")  # fmt: skip

st.subheader(f"Every head of layer {layer} at step {upto}")
page.chart(heads_at_step(gen, layer, upto, settings.present), f"generate-heads-L{layer}-{upto}")

page.formula(
    r"p = \operatorname{softmax}(z / T);\ \text{top-}k:\ \text{keep the } k \text{ largest};\ "
    r"\text{top-}p:\ \text{keep the smallest set with } \textstyle\sum p \ge p_{\max};\quad"
    r"\text{cache} = 2 \cdot n_\text{layer} \cdot n_\text{kv\_head} \cdot n_\text{seq} \cdot d_\text{head} \cdot 4\ \text{bytes}",
    caption="z are the next-token logits; the draw uses numpy's Generator(seed), so a seed gives the same text.",
)
