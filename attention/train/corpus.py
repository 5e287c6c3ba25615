"""The training text: lecture-world sentences generated from a seed, and the word-level tokenizer.

Sentences are about one topic (a lecture axis: food, technology, animal, ...). An ambiguous word (apple, bank,
mouse, ...) appears in both senses, among words of that sense's topic, so only the context tells them apart.
3 in 10 sentences follow a template; the other 7 are "glue" sentences: topic words joined by runs of random
function words, so the topic, not the grammar around it, is what predicts the next content word (a prompt such as
"my laptop , my phone and my apple need a new" is in neither form). About 10 % of the sequences hold a run of random
vocabulary words that is repeated later in the same sequence: copying from context pays off there, so induction heads
can form (Olsson et al. 2022).
"""

import functools
import json

import numpy as np

from ..lecture import _TOKEN
from ..vocab import AMBIGUOUS, AXES, SENSES, function_words, memberships

SPECIALS = ("<bos>", "<eos>", "<unk>")
PUNCTUATION = tuple(".,!?;:'\"()-")
INDUCTION_SHARE = 0.1  # of the sequences
AMBIGUOUS_SHARE = 0.5  # of the sentences
RUN_LENGTH = (4, 12)  # words in a repeated run, inclusive
GLUE_SHARE = 0.7  # of the sentences: topic words joined by random function words instead of a template
GLUE_WORDS = (1, 3)  # function words (or a comma) between two topic words, inclusive
GLUE_TOPICS = (3, 5)  # topic words in a glue sentence (the ambiguous word included), inclusive
MEMBER_MIN = 0.5  # a word is drawn for an axis's sentences if its membership there is at least this

# {t}: a word of the sentence's topic; {a}: the ambiguous word, in the sense of that topic.
TOPIC_TEMPLATES = (
    "the {t} and the {t} .",
    "i like the {t} with the {t} .",
    "we saw a {t} near the {t} and a {t} .",
    "she said the {t} was very {t} .",
    "there is a {t} , a {t} and some {t} .",
    "my {t} is in the {t} .",
    "they often think about {t} and {t} .",
    "he found the {t} by the {t} .",
    "after the {t} , we had {t} and {t} .",
    "the {t} of the {t} is {t} .",
)
SENSE_TEMPLATES = (
    "the {t} and the {a} near the {t} .",
    "she saw the {t} , then the {a} and the {t} .",
    "my {t} and {t} and the {a} with the {t} .",
    "we had a {t} with the {a} in the {t} and a {t} .",
    "after the {t} the {a} was by the {t} .",
    "the {a} of the {t} is {t} .",
)


def words():  # -> list[str]: the lecture tokenizer's words, sorted (content, ambiguous and function words)
    return sorted(memberships().keys() | AMBIGUOUS.keys() | function_words())


@functools.cache
def vocabulary():  # -> dict token -> id: specials first, then punctuation, then words
    return {t: i for i, t in enumerate([*SPECIALS, *PUNCTUATION, *words()])}


@functools.cache
def topic_words():  # -> {axis: tuple of words}: full members (weight 1) of each lecture axis, no ambiguous word
    table = memberships()
    return {axis: tuple(sorted(w for w, m in table.items() if m.get(axis) == 1.0)) for axis in AXES}


@functools.cache
def topic_pool():  # -> {axis: tuple of words} a sentence about the axis draws from: membership >= MEMBER_MIN
    """Full members and the words that lean to the axis ("worker": people 0.7, building 0.5), so that every such word
    is seen in training; the full members alone (topic_words) are what the sense tests count."""
    table = memberships()
    return {axis: tuple(sorted(w for w, m in table.items() if m.get(axis, 0) >= MEMBER_MIN)) for axis in AXES}


def sense_axes(sense):  # "season" -> ("time", "weather"): the lecture axes a sense of an ambiguous word lives on
    return tuple(SENSES[sense])


def tokenizer():  # -> tokenizers.Tokenizer: WordLevel over vocabulary(), lower-cased, the lecture's word split
    """Reads text as lecture.tokenize does (contractions whole, punctuation apart) and puts <bos> in front."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel

    vocab = vocabulary()
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.Replace("’", "'"), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(_TOKEN.pattern), "isolated")]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", vocab["<bos>"])]
    )
    tok.add_special_tokens(list(SPECIALS))
    return tok


def save_tokenizer(path):  # writes tokenizer.json (and nothing else) to the folder `path`
    tokenizer().save(str(path / "tokenizer.json"))


def ids_of(text):  # str of known words separated by spaces -> list[int] (no <bos>)
    vocab = vocabulary()
    return [vocab[w] for w in text.split()]


class Sampler:
    """Draws sentences and repeated runs as token ids from one numpy Generator."""

    def __init__(self, rng):
        vocab = vocabulary()
        self.rng = rng
        self.topics = {a: np.array([vocab[w] for w in ws]) for a, ws in topic_pool().items() if ws}
        self.axes = sorted(self.topics)
        self.word_ids = np.array([vocab[w] for w in words()])
        self.topic_templates = [t.split() for t in TOPIC_TEMPLATES]
        self.sense_templates = [t.split() for t in SENSE_TEMPLATES]
        self.ambiguous = sorted(AMBIGUOUS)
        self.glue_ids = np.array([vocab[w] for w in [",", *sorted(function_words())]])

    def fill(self, template, axis, ambiguous=None):  # -> list[int]
        vocab, pool = vocabulary(), self.topics[axis]
        out = []
        for w in template:
            if w == "{t}":
                out.append(int(pool[self.rng.integers(len(pool))]))
            elif w == "{a}":
                out.append(vocab[ambiguous])
            else:
                out.append(vocab[w])
        return out

    def glue(self, axis, ambiguous=None):  # -> list[int]: topic words of `axis`, random function words between
        """g t g t ... g . where g is 1-3 random function words (or a comma); the ambiguous word, if any, takes a
        topic word's place after the first, so some context comes before it and the sense is told by the rest."""
        rng, pool = self.rng, self.topics[axis]
        n = int(rng.integers(GLUE_TOPICS[0], GLUE_TOPICS[1] + 1))
        slot = int(rng.integers(1, n)) if ambiguous else -1
        out = []
        for k in range(n):
            out += [int(i) for i in rng.choice(self.glue_ids, int(rng.integers(GLUE_WORDS[0], GLUE_WORDS[1] + 1)))]
            out.append(vocabulary()[ambiguous] if k == slot else int(pool[rng.integers(len(pool))]))
        return out + [vocabulary()["."]]

    def sentence(self):  # -> list[int]: a topic sentence, or one holding an ambiguous word in one of its senses
        rng = self.rng
        glue = rng.random() < GLUE_SHARE
        if rng.random() < AMBIGUOUS_SHARE:
            word = self.ambiguous[rng.integers(len(self.ambiguous))]
            axes = sense_axes(AMBIGUOUS[word][rng.integers(2)])
            axis = axes[rng.integers(len(axes))]
            if glue:
                return self.glue(axis, word)
            return self.fill(self.sense_templates[rng.integers(len(self.sense_templates))], axis, word)
        axis = self.axes[rng.integers(len(self.axes))]
        if glue:
            return self.glue(axis)
        return self.fill(self.topic_templates[rng.integers(len(self.topic_templates))], axis)

    def run(self):  # -> list[int]: distinct random vocabulary words
        n = int(self.rng.integers(RUN_LENGTH[0], RUN_LENGTH[1] + 1))
        return [int(i) for i in self.rng.choice(self.word_ids, n, replace=False)]

    def sequence(self, n_tokens, induction_share=INDUCTION_SHARE):  # -> [n_tokens] int, cut to length
        """<bos> and sentences; or (with probability induction_share) a random run, maybe a sentence, then the run
        again and again to the end."""
        ids = [vocabulary()["<bos>"]]
        if self.rng.random() < induction_share:
            run = self.run()
            ids += run
            for _ in range(self.rng.integers(0, 2)):
                ids += self.sentence()
            while len(ids) < n_tokens:
                ids += run
        while len(ids) < n_tokens:
            ids += self.sentence()
        return np.array(ids[:n_tokens], dtype=np.int64)


@functools.lru_cache(maxsize=4)
def corpus(seed, n_sequences, n_tokens, induction_share=INDUCTION_SHARE):  # -> [n_sequences, n_tokens] int64
    """The training set (read-only): n_sequences sequences of n_tokens ids (n_seq + 1: inputs and shifted targets)."""
    sampler = Sampler(np.random.default_rng(seed))
    out = np.stack([sampler.sequence(n_tokens, induction_share) for _ in range(n_sequences)])
    out.flags.writeable = False
    return out


def batch_at(seed, step, n_batch, n_tokens, induction_share=INDUCTION_SHARE):  # -> [n_batch, n_tokens] int64
    """Step `step`'s own fresh sequences, from a Generator seeded by (seed, step): no sequence is seen twice, so a
    repeated run cannot be memorised and must be copied from context; the same seed gives the same batches."""
    sampler = Sampler(np.random.default_rng([seed, step]))
    return np.stack([sampler.sequence(n_tokens, induction_share) for _ in range(n_batch)])


def decode(ids):  # [n] int -> str: the words, space-separated
    names = list(vocabulary())
    return " ".join(names[int(i)] for i in ids)


def repeated_runs(seed, n_sequences, length):  # -> [n_sequences, 1 + 2·length] int: <bos> R R, R random words
    """The copy test: each sequence is <bos> and `length` distinct random vocabulary words, twice."""
    sampler = Sampler(np.random.default_rng(seed))
    bos = vocabulary()["<bos>"]
    rows = []
    for _ in range(n_sequences):
        run = [int(i) for i in sampler.rng.choice(sampler.word_ids, length, replace=False)]
        rows.append([bos, *run, *run])
    return np.array(rows, dtype=np.int64)


def vocab_json():  # -> str: the vocabulary as JSON (for a quick look; tokenizer.json holds it too)
    return json.dumps(vocabulary(), indent=0)
