"""Retrieval metrics with numpy: recall@k both ways, median rank, chance levels.

Duplicates: several rows may hold the same item (the same name, the same
file). A retrieved item counts as a hit when its *raw value* (the string, or
the resolved file path) equals the true partner's, so a query is not
penalised for ranking an identical copy of its partner first. The rank of a
query is the 1-based position of the first item equal to its partner, and
the chance level of recall@k is what a random ranking scores with the same
duplicates (`k / n` when every value is distinct).
"""

import numpy as np

DEFAULT_KS = (1, 5, 10)


def ranks(query_embeddings, index_embeddings, index_values=None):
    """The 1-based rank of each query's true partner among all index items.

    Row `i` of the queries pairs with row `i` of the index. Items are
    ranked by dot product (cosine for L2-normalised embeddings), highest
    first; ties are broken by position. With values given, the rank is
    that of the first item whose value equals the partner's value.

    Args:
        query_embeddings: `[n, dim]`.
        index_embeddings: `[n, dim]`, row-aligned with the queries.
        index_values: optional `[n]` raw values of the index items, used to
            recognise duplicates of a query's partner.

    Returns:
        int array `[n]`, 1 = the partner (or an equal item) came first.

    Example:

    >>> ranks(np.eye(3), np.array([[1., 0, 0], [0, 0, 1], [0, 1, 0]]))
    array([1, 3, 3])
    """
    q = np.asarray(query_embeddings, dtype=np.float64)
    x = np.asarray(index_embeddings, dtype=np.float64)
    if q.ndim != 2 or x.ndim != 2 or len(q) != len(x) or q.shape[1] != x.shape[1]:
        raise ValueError(f"ranks expects row-aligned [n, dim] embeddings, got {q.shape} and {x.shape}")
    n = len(q)
    scores = q @ x.T
    order = np.argsort(-scores, axis=1, kind="stable")
    if index_values is None:
        hits = order == np.arange(n)[:, None]
    else:
        values = np.asarray(index_values, dtype=object)
        if len(values) != n:
            raise ValueError(f"index_values has {len(values)} entries for {n} rows")
        hits = values[order] == values[:, None]
    return hits.argmax(axis=1) + 1


def chance_recall(index_values, k):
    """Expected recall@k of a random ranking: `1 - C(n - m, k) / C(n, k)` per query, averaged.

    `m` is the number of index items equal to the query's partner (1
    without duplicates, which gives `k / n`).

    Example:

    >>> chance_recall(["a", "b", "c", "d"], 1)
    0.25
    >>> round(chance_recall(["a", "a", "c", "d"], 1), 3)    # two queries have 2 acceptable items
    0.375
    """
    values = np.asarray(index_values, dtype=object)
    n = len(values)
    if n == 0:
        return 0.0
    _, inverse, counts = np.unique(values.astype(str), return_inverse=True, return_counts=True)
    m = counts[inverse]
    k = min(k, n)
    miss = np.ones(n)
    for j in range(k):  # probability that none of the k drawn items is acceptable
        miss *= np.clip((n - m - j) / (n - j), 0.0, None)
    return float(np.mean(1.0 - miss))


def retrieval_metrics(embeddings, values=None, *, ks=DEFAULT_KS):
    """Recall@k, median rank and chance levels in both directions of a pair.

    Args:
        embeddings: {a: `[n, dim]`, b: `[n, dim]`}, row-aligned, in pair order.
        values: optional {a: `[n]`, b: `[n]`} raw values, for duplicates.
        ks: the k of recall@k.

    Returns:
        A flat dict: `<a>_to_<b>_recall@<k>`, `<a>_to_<b>_chance@<k>`,
        `<a>_to_<b>_median_rank`, `<a>_to_<b>_mean_reciprocal_rank`, the
        same for `<b>_to_<a>`, and `count`.

    Example:

    >>> m = retrieval_metrics({"picture": np.eye(3), "name": np.eye(3)})
    >>> m["picture_to_name_recall@1"], m["picture_to_name_chance@1"]
    (1.0, 0.333...)
    """
    names = list(embeddings)
    if len(names) != 2:
        raise ValueError(f"retrieval_metrics expects the embeddings of 2 inputs, got {names}")
    values = values or {}
    n = len(embeddings[names[0]])
    out = {}
    for query, index in (names, names[::-1]):
        r = ranks(embeddings[query], embeddings[index], values.get(index))
        chance_values = values.get(index) if values.get(index) is not None else np.arange(n)
        prefix = f"{query}_to_{index}"
        for k in ks:
            out[f"{prefix}_recall@{k}"] = float(np.mean(r <= k)) if n else 0.0
        for k in ks:
            out[f"{prefix}_chance@{k}"] = chance_recall(chance_values, k)
        out[f"{prefix}_median_rank"] = float(np.median(r)) if n else 0.0
        out[f"{prefix}_mean_reciprocal_rank"] = float(np.mean(1.0 / r)) if n else 0.0
    out["count"] = int(n)
    return out

