"""Tiny random checkpoints in folders the dashboard serves under a real model's name (ATTENTION_MODEL_DIR_<NAME>).

folder = tiny_decoder(tmp_path / "llama")   # a Llama with Llama's long context: the dashboard's 512 cap applies
"""

import transformers
from tiny_models import bpe, mlm, scramble


def tiny_decoder(folder, cls="LlamaConfig", seed=0, **extra):  # -> folder holding a tiny random Llama-family model
    """2 layers, 4 heads over 2 KV heads, d_model 32, and Llama's long context (8192 positions) unless told."""
    folder.mkdir(parents=True, exist_ok=True)
    config = getattr(transformers, cls)(**{
        "vocab_size": bpe(folder).get_vocab_size(), "hidden_size": 32, "intermediate_size": 48,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 8192,
        **extra})  # fmt: skip
    scramble(getattr(transformers, cls.replace("Config", "ForCausalLM"))(config), seed).save_pretrained(folder)
    return folder


def tiny_bert(folder):  # -> folder holding a tiny random BERT with its MLM head (MiniLM's WordPiece tokens)
    folder.mkdir(parents=True, exist_ok=True)
    mlm("bert", folder)
    return folder
