"""What a trained (or untrained) model predicts next: the /train page's before-and-after bars."""

import numpy as np

from . import corpus
from .model import forward, init_params


def initial_params(settings):  # loop.Settings -> {name: float32 array}: the weights train() starts from (step 0)
    """train() draws its initial weights from default_rng(seed) alone, so the untrained model is re-made exactly."""
    s = settings.check()
    return init_params(s.config(), np.random.default_rng(s.seed))


def encode_prompt(text, n_pos):  # -> ([n] int, tokens, unknown words): <bos> and the prompt, its last n_pos tokens
    enc = corpus.tokenizer().encode(str(text))
    if len(enc.ids) < 2:
        raise ValueError("the prompt has no words; type a few words such as 'she plugged the mouse into the'")
    unk = corpus.vocabulary()["<unk>"]
    unknown = [str(text)[a:b] for i, (a, b) in zip(enc.ids, enc.offsets, strict=True) if i == unk]
    return np.array(enc.ids[-n_pos:]), enc.tokens[-n_pos:], unknown


def next_token_probs(params, config, ids):  # {name: array}, Config, [n] int -> [n_vocab]: p(next | ids)
    logits = forward(params, np.asarray(ids)[None], config)[0][0, -1].astype(np.float64)
    p = np.exp(logits - logits.max())
    return p / p.sum()


def top_k(probs, k=8):  # [n_vocab] -> [(token, probability)], most probable first
    names = {i: t for t, i in corpus.vocabulary().items()}
    order = np.argsort(-probs, kind="stable")[:k]
    return [(names[int(i)], float(probs[i])) for i in order]
