"""Our own GPT-2 trainer in numpy, and the corpus the shipped model `tiny` learned from.

    corpus.py  lecture-world sentences from a seed, repeated random runs, the WordLevel tokenizer
    layers.py  every layer as a *_forward / *_backward pair (llm.c style)
    model.py   GPT-2 parameters under GPT-2's names, forward, backward
    optim.py   AdamW, gradient clipping, warm-up + cosine schedule
    loop.py    Settings (validated), train() -> TrainResult (weights, loss curve, W_q/W_k gradient norms,
               softmax saturation, attention snapshots, induction score), save_checkpoint
    cli.py     python -m attention train --out DIR

For a page: `train(Settings(steps=600, scale=False), progress=cb, snapshot_every=50, probe_text=text,
should_stop=cb2)`; Settings.check() raises ValueError with a message that says what to change.
"""
