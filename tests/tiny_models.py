"""Tiny random checkpoints made here with transformers, saved with a byte-level BPE tokenizer trained here.

folder = tiny_decoder(tmp_path / "llama")          # config.json + model.safetensors + tokenizer.json
ATTENTION_MODEL_DIR_SMOLLM2=folder                   # serves it as "smollm2" to the dashboard
"""

from attention.examples import EXAMPLES

TEXTS = [*EXAMPLES.values(), "The animal didn't cross the street because it was too tired.",
         "She sat on the bank of the river; he went to the bank to deposit money.", "I ate an apple and a banana"]  # fmt: skip


def bpe(path, texts, specials=("<|endoftext|>",)):  # -> the byte-level BPE tokenizer trained on texts, saved in path
    from tokenizers import ByteLevelBPETokenizer

    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(texts, vocab_size=300, min_frequency=2, show_progress=False, special_tokens=list(specials))
    tok.save(str(path / "tokenizer.json"))
    return tok


def scramble(model, seed):  # random weights large enough that attention is far from uniform; norm gains near 1
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3 + (1.0 if "norm" in name else 0.0))
    return model.eval()


def tiny_decoder(folder, cls="LlamaConfig", seed=0, **extra):  # -> folder holding a tiny random Llama-family model
    """2 layers, 4 heads over 2 KV heads, d_model 32, and Llama's long context (8192 positions) unless told."""
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    vocab = bpe(folder, TEXTS * 3).get_vocab_size()
    config = getattr(transformers, cls)(**{
        "vocab_size": vocab, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 8192, **extra})  # fmt: skip
    scramble(getattr(transformers, cls.replace("Config", "ForCausalLM"))(config), seed).save_pretrained(folder)
    return folder


def tiny_bert(folder, seed=11):  # -> folder holding a tiny random BERT with its MLM head, MiniLM's WordPiece tokens
    import shutil

    import transformers

    from attention.models import loading

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(loading.bundle_dir("minilm") / "tokenizer.json", folder / "tokenizer.json")
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=64, max_position_embeddings=512)  # fmt: skip
    scramble(transformers.BertForMaskedLM(config), seed).save_pretrained(folder)
    return folder
