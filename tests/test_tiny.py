"""The shipped model `tiny`: a checkpoint transformers reads with the same logits, run by our forward pass like any
GPT-2, and what it learned: copying from context (an induction head), and an ambiguous word's sense from context."""

import numpy as np
import pytest
from safetensors.numpy import load_file

from attention import checkpoint, registry
from attention.train import corpus
from attention.train.model import Config, forward

TINY = checkpoint.SHIPPED["tiny"]


@pytest.fixture(scope="module")
def tiny():  # -> (params, Config) read from the shipped files
    ckpt = checkpoint.load("tiny")
    c = ckpt.config
    params = load_file(TINY / "model.safetensors")
    return params, Config(params["wte.weight"].shape[0], c.n_pos, c.n_layer, c.n_head, c.d_model, eps=c.eps)


def logits_of(tiny, ids):  # [n_batch, n_seq] -> [n_batch, n_seq, n_vocab]
    params, c = tiny
    return forward(params, np.asarray(ids), c)[0]


def test_shipped_small_offline_and_listed():
    size = sum(f.stat().st_size for f in TINY.iterdir())
    assert size < 5 * 2**20
    assert checkpoint.locate("tiny")[1] == "shipped"
    assert registry.model_names()[:2] == ["lecture", "tiny"] and "tiny" in registry.available_models()


def test_transformers_gives_the_same_logits(tiny):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    model = transformers.GPT2LMHeadModel.from_pretrained(TINY, attn_implementation="eager").eval()
    tok = transformers.PreTrainedTokenizerFast(tokenizer_file=str(TINY / "tokenizer.json"))
    ids = tok("the mouse and the keyboard near the screen")["input_ids"]
    assert ids[0] == corpus.vocabulary()["<bos>"]
    with torch.no_grad():
        expected = model(torch.tensor([ids])).logits.numpy()
    np.testing.assert_allclose(logits_of(tiny, [ids]), expected, atol=1e-4, rtol=1e-4)


def test_our_forward_pass_runs_it_with_word_tokens(tiny):
    run = registry.run("tiny", "She didn't eat the apple near the bank.")
    assert run.tokens == ["<bos>", "she", "didn't", "eat", "the", "apple", "near", "the", "bank", "."]
    assert run.special.tolist() == [True] + [False] * 9
    # the dashboard's forward pass and the trainer's agree on the last hidden state (after ln_f)
    params, c = tiny
    ids = corpus.tokenizer().encode("She didn't eat the apple near the bank.").ids
    _, cache = forward(params, np.array([ids]), c)
    np.testing.assert_allclose(run.hidden[-1], cache[3][0], atol=1e-4)


@pytest.fixture(scope="module")
def repeated():  # 64 sequences <bos> R R of 10 random vocabulary words, drawn apart from the training corpus
    return corpus.repeated_runs(seed=12345, n_sequences=64, length=10)


def test_copies_the_second_half_from_context(tiny, repeated):
    length = 10
    logits = logits_of(tiny, repeated)
    rows = np.arange(length + 1, 2 * length)  # predicting R[2:] from R's second occurrence
    accuracy = (logits[:, rows].argmax(-1) == repeated[:, rows + 1]).mean()
    assert accuracy >= 0.9


def test_one_head_is_an_induction_head(repeated):
    length, names = 10, list(corpus.vocabulary())
    scores = []
    for ids in repeated[:16]:  # through the dashboard's own forward pass, as a student would see it
        run = registry.run("tiny", " ".join(names[i] for i in ids[1:]))
        assert run.n_seq == 1 + 2 * length
        j = np.arange(1, length + 1)
        scores.append(run.weights[:, :, length + j, j + 1].mean(-1))  # [n_layer, n_head]
    assert np.mean(scores, axis=0).max() >= 0.5


# (ambiguous word, sense, prompt): the words before it fix the sense; none of these prompts is in the corpus
PROMPTS = [
    ("apple", "fruit", "i ate the banana , the pear and the apple for the"),
    ("apple", "technology", "my laptop , my phone and my apple need a new"),
    ("bank", "river", "the fish swim in the river near the bank under the"),
    ("bank", "money", "i put my cash and my salary in the bank for the"),
    ("bat", "animal", "at night the owl , the spider and the bat hunt the"),
    ("bat", "sport", "the player hit the ball with the bat in the"),
    ("mouse", "animal", "the cat and the dog chase the mouse into the"),
    ("mouse", "technology", "i use the keyboard , the screen and the mouse of the"),
    ("python", "animal", "in the zoo the snake , the lion and the python eat the"),
    ("python", "technology", "the programmer wrote code in python for the"),
    ("spring", "season", "in april the weather is warm and spring is the"),
    ("spring", "water", "the stream and the river come from a spring in the"),
    ("crane", "animal", "the duck , the eagle and the crane fly over the"),
    ("crane", "construction", "the worker used a crane to build the"),
    ("jaguar", "animal", "the tiger , the lion and the jaguar hunt in the"),
    ("jaguar", "car", "he drove his porsche , his ferrari and his jaguar on the"),
    ("bass", "animal", "the fisherman caught a shark and a bass in the"),
    ("bass", "music", "he can play the guitar , the piano and the bass in the"),
    ("pitch", "sport", "the football team ran onto the pitch for the"),
    ("pitch", "music", "the singer sang the song at the right pitch with the"),
    ("bark", "tree", "the tree has green leaves and brown bark on the"),
    ("bark", "animal", "the dog and the puppy bark at the"),
    ("cold", "weather", "in winter the snow and ice make it cold and the"),
    ("cold", "illness", "she has a fever , a cough and a cold so the"),
]


def sense_words(sense):  # -> set of topic words of the sense's lecture axes
    return {w for axis in corpus.sense_axes(sense) for w in corpus.topic_words()[axis]}


def fits_a_template(words):  # -> bool: the words lie inside some sentence template, {t} and {a} matching any word
    topic = {w for ws in corpus.topic_pool().values() for w in ws}
    slot = {"{t}": topic, "{a}": set(corpus.AMBIGUOUS)}
    for template in (t.split() for t in corpus.TOPIC_TEMPLATES + corpus.SENSE_TEMPLATES):
        for start in range(len(template) - len(words) + 1):
            window = template[start : start + len(words)]
            if all(w in slot.get(t, {t}) for t, w in zip(window, words, strict=True)):
                return True
    return False


def glue_draws(
    words,
):  # -> (glue, topic) | None: exact draws a glue sentence must make to hold `words` (None: it can't)
    """A glue sentence is runs of 1-3 glue tokens (function words or a comma), each followed by one content word:
    a topic word of the sentence's axis, or its ambiguous word."""
    glue = {",", *corpus.function_words()}
    is_glue = [w in glue for w in words]
    pattern = "".join("g" if g else "c" for g in is_glue)
    if "cc" in pattern or any(len(run) > corpus.GLUE_WORDS[1] for run in pattern.split("c")):
        return None  # two content words in a row, or more glue in a row than a glue sentence draws
    return sum(is_glue), sum(not g and w not in corpus.AMBIGUOUS for g, w in zip(is_glue, words, strict=True))


def test_prompts_cover_every_sense_and_are_not_in_the_corpus():
    """Not in the fixed corpus (--fixed-corpus), nor in any sequence the trainer draws fresh (the shipped tiny):
    - a sentence ends with "." and a prompt holds none, so it would have to lie inside one sentence;
    - no prompt fits inside a sentence template;
    - inside a glue sentence, each of its glue words is one draw among len(glue) tokens, and each topic word one
      among at least the smallest axis's words: over every position of every training sequence the chance that one
      holds the prompt is below 1e-6 (a union bound);
    - the other sequences are runs of distinct random words, and one spelling a 9-word prompt has a chance of
      ~1000^-9."""
    import json

    from attention.vocab import AMBIGUOUS

    assert {(w, s) for w, s, _ in PROMPTS} == {(w, s) for w, senses in AMBIGUOUS.items() for s in senses}
    assert fits_a_template("the dog and the apple near the".split())  # the check finds a sentence's words
    assert glue_draws("with the dog , apple near the".split()) == (5, 1) and glue_draws("dog apple".split()) is None
    text = " " + " ".join(corpus.decode(row) for row in corpus.corpus(0, 4000, 33, 0.3)) + " "
    training = json.loads((TINY / "training.json").read_text())
    positions = training["steps"] * training["batch"] * (training["n_seq"] + 1)
    n_glue = 1 + len(corpus.function_words())
    n_topic = min(len(words) for words in corpus.topic_pool().values() if words)
    for _, _, prompt in PROMPTS:
        assert f" {prompt} " not in text
        assert "." not in prompt and not fits_a_template(prompt.split()), prompt
        assert all(w in corpus.vocabulary() for w in prompt.split())
        if (draws := glue_draws(prompt.split())) is not None:
            assert positions * n_glue ** -draws[0] * n_topic ** -draws[1] < 1e-6, (prompt, draws)


@pytest.mark.parametrize(
    "word, sense, prompt",
    [pytest.param(w, s, p, id=f"{w}-{s}") for w, s, p in PROMPTS],
)
def test_sense_from_context(tiny, word, sense, prompt):
    from attention.vocab import AMBIGUOUS

    other = next(s for s in AMBIGUOUS[word] if s != sense)
    mine, theirs = sense_words(sense), sense_words(other)
    mine, theirs = mine - theirs, theirs - mine  # words of both senses count for neither
    vocab = corpus.vocabulary()
    ids = corpus.tokenizer().encode(prompt).ids
    logits = logits_of(tiny, [ids])[0, -1].astype(np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    mass = lambda words: probs[[vocab[w] for w in words]].sum()  # noqa: E731
    assert mass(mine) > mass(theirs), f"{prompt!r}: {sense} {mass(mine):.3f} vs {other} {mass(theirs):.3f}"


@pytest.mark.parametrize(
    "page", ["overview", "scores", "heads", "pull", "steps", "compare", "flow", "geometry", "generate"]
)
def test_every_page_runs_with_tiny(page):
    from streamlit.testing.v1 import AppTest

    root = TINY.parents[1]
    at = AppTest.from_file(str(root / "app.py"), default_timeout=90)
    at.query_params.update({"model": "tiny"})
    at.run()
    if page != "overview":
        at.switch_page(str(root / "pages" / f"{page}.py")).run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert next(s.value for s in at.selectbox if s.label == "Model") == "tiny"
