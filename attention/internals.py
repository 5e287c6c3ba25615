"""What the modern decoders add, read off a Run: q and k before RoPE, the shift test, KV groups, sink heads.

q0, k0 = before_rope(run, layer, head)        # [n_seq, d_head] each, the vectors RoPE rotates
shifted_scores(q0[i], k0[j], run.rope, i, j)  # the same pair at positions shifted together: one score
"""

import numpy as np

from .models.blocks import rotate, unrotate


def before_rope(run, layer, head):  # -> (q, k) [n_seq, d_head]: one head's query and key before rotation
    """Run.queries/keys are after RoPE; turning each row back by its own angle gives what W_q, W_k produced."""
    if run.rope is None:
        raise ValueError(f"{run.model} has no rotary position embeddings")
    q, k = run.queries[layer, head], run.keys[layer, head]
    return unrotate(q, run.positions, run.rope), unrotate(k, run.positions, run.rope)


def rotated_score(q, k, inv_freq, i, j):  # [d_head], [d_head], [d_head/2], positions -> q·k after rotating to i, j
    """In float64, so that the demonstration's equal scores are equal to many digits, not float32's seven."""
    freq = np.asarray(inv_freq, dtype=np.float64)
    qr = rotate(np.asarray(q, np.float64)[None], np.cos(i * freq)[None], np.sin(i * freq)[None])[0]
    kr = rotate(np.asarray(k, np.float64)[None], np.cos(j * freq)[None], np.sin(j * freq)[None])[0]
    return float(np.dot(qr, kr))


def shifted_scores(q, k, inv_freq, i, j, shifts):  # -> (together [n_shift], apart [n_shift]) raw q·k
    """The same q and k content placed at (i + s, j + s): one score whatever s (it depends on i − j only);
    and at (i + s, j): the distance grows with s and the score changes."""
    together = [rotated_score(q, k, inv_freq, i + s, j + s) for s in shifts]
    apart = [rotated_score(q, k, inv_freq, i + s, j) for s in shifts]
    return np.array(together), np.array(apart)


def kv_groups(kv_heads, n_head):  # [n_head] int | None -> list of lists: the query heads of each KV head
    """Grouped-query attention: query heads that read the same key/value head. Plain multi-head: one each."""
    kv = np.arange(n_head) if kv_heads is None else np.asarray(kv_heads)
    return [[int(h) for h in np.flatnonzero(kv == g)] for g in range(int(kv.max()) + 1)]


def sink_heads(first_share, threshold=0.5):  # [n_head] mean weight on the first token -> list of (head, share)
    """Heads that put most of their weight (over `threshold`, averaged over the queries) on the first token."""
    share = np.asarray(first_share, dtype=np.float64)
    return [(int(h), float(share[h])) for h in np.argsort(-share) if share[h] > threshold]
