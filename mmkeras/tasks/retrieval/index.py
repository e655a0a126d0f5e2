"""`top_k`: the nearest items of an embedding index for a batch of queries (numpy)."""

import numpy as np


def top_k(query_embeddings, index_embeddings, k=10):
    """The `k` index items most similar to each query, best first.

    Similarity is the dot product, which is the cosine for the L2-normalised
    embeddings the `embed_<input>` signatures return. Works on numpy arrays
    or anything `np.asarray` takes (e.g. the signatures' tensors).

    Args:
        query_embeddings: `[dim]` (one query) or `[queries, dim]`.
        index_embeddings: `[items, dim]`.
        k: how many items per query (at most `items`).

    Returns:
        `(indices, scores)`: int64 `[queries, k]` row numbers into the index
        and float32 `[queries, k]` similarities, in decreasing order (a 1-D
        query gives `[k]` arrays).

    Example:

    >>> names = ["grinning face", "red apple", "rocket"]
    >>> index = np.float32([[1, 0], [0.6, 0.8], [0, 1]])   # e.g. export.signatures["embed_name"](name=...)
    >>> query = np.float32([0.1, 0.99])                     # e.g. export.signatures["embed_picture"](...)
    >>> indices, scores = top_k(query, index, k=2)
    >>> [names[i] for i in indices], np.round(scores.astype(float), 2).tolist()
    (['rocket', 'red apple'], [0.99, 0.85])
    """
    q = np.asarray(query_embeddings, dtype=np.float32)
    x = np.asarray(index_embeddings, dtype=np.float32)
    single = q.ndim == 1
    if single:
        q = q[None, :]
    if q.ndim != 2 or x.ndim != 2 or q.shape[1] != x.shape[1]:
        raise ValueError(f"top_k expects queries [queries, dim] and an index [items, dim] of the same dim, "
                         f"got {q.shape} and {x.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k = min(int(k), len(x))
    scores = q @ x.T
    if k < len(x):  # partial sort of the top k, then order those
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.tile(np.arange(len(x)), (len(q), 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    indices = np.take_along_axis(part, order, axis=1).astype(np.int64)
    best = np.take_along_axis(part_scores, order, axis=1).astype(np.float32)
    return (indices[0], best[0]) if single else (indices, best)
