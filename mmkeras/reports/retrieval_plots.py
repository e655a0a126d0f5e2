"""Plots of a retrieval run: recall@k in both directions against chance, and a grid of queries and their top results.

Both take the embeddings a run records (`embeddings_<split>.npz`: each
tower's `[rows, dim]` embeddings and the raw values, file paths or
strings) and return `matplotlib.figure.Figure`s. An image input's items are
drawn as pictures (decoded with TensorFlow, so any format the pipeline
reads), any other input's as text.
"""

import os

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

from mmkeras.reports.plots import DPI, new_figure
from mmkeras.tasks.retrieval.metrics import chance_recall, ranks

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")


def recall_curve(embeddings, pair, *, max_k=None, title="retrieval: recall@k"):
    """Recall@k for k = 1..max_k in both directions of the pair, with what a random ranking scores.

    Args:
        embeddings: `{a: [n, dim], b: [n, dim], a + "__raw": [n], b + "__raw": [n]}` (raw values optional:
            equal values count as hits, as in `metrics.json`).
        pair: the two input names `(a, b)`.
        max_k: the largest k (default min(n, 20)).
        title: the figure's title.

    Example:

    >>> e = {"picture": np.eye(3), "name": np.eye(3)}
    >>> figure = recall_curve(e, ("picture", "name"))
    >>> [line.get_label() for line in figure.axes[0].get_lines()]
    ['picture -> name', 'name -> picture', 'chance']
    """
    a, b = pair
    n = len(embeddings[a])
    max_k = max_k or min(n, 20)
    ks = np.arange(1, max_k + 1)
    figure, (ax,) = new_figure(1, panel=(5.0, 3.6))
    for query, index in ((a, b), (b, a)):
        values = embeddings.get(f"{index}__raw")
        r = ranks(embeddings[query], embeddings[index], values)
        ax.plot(ks, [np.mean(r <= k) for k in ks], marker="o", markersize=3, label=f"{query} -> {index}")
    values = embeddings.get(f"{b}__raw")
    chance_values = values if values is not None else np.arange(n)
    ax.plot(ks, [chance_recall(chance_values, int(k)) for k in ks], color="grey", linestyle="--", label="chance")
    ax.set(xlabel="k", ylabel="recall@k", ylim=(0, 1.05), title=f"{title} ({n} items)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return figure


def is_image_value(value):
    """True when a raw value names an image file (by its extension); it is drawn as a picture when the file exists.

    Example:

    >>> is_image_value("/data/cat.PNG"), is_image_value("a red apple")
    (True, False)
    """
    return str(value).lower().endswith(IMAGE_EXTENSIONS)


def _draw_item(ax, value, *, hit=None):
    if is_image_value(value) and os.path.isfile(str(value)):
        image = tf.io.decode_image(tf.io.read_file(str(value)), channels=3, expand_animations=False).numpy()
        ax.imshow(image)
    else:
        text = str(value)
        ax.text(0.5, 0.5, text if len(text) <= 60 else text[:57] + "...", ha="center", va="center",
                wrap=True, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    if hit is not None:
        for spine in ax.spines.values():
            spine.set_edgecolor("tab:green" if hit else "tab:red")
            spine.set_linewidth(3)


def top_results_grid(embeddings, query, index, *, queries=4, k=5, seed=0, title=None):
    """A grid: one row per query item, then its top-k results in the other tower (a hit framed green).

    A result is a hit when it is the query's partner or equal to it (the
    same raw value, as in the metrics), or when its own partner equals the
    query (a picture of "red apple" for the query "red apple", from another
    row).

    Args:
        embeddings: as for `recall_curve`; the raw values are what is drawn (pictures for image files).
        query, index: the direction, e.g. `("name", "picture")`.
        queries: how many query rows (picked at random with `seed`).
        k: results per query.
        seed: which queries are picked.
        title: the figure's title.

    Example:

    >>> e = {"picture": np.eye(3), "name": np.eye(3), "name__raw": np.array(["a", "b", "c"]),
    ...      "picture__raw": np.array(["x", "y", "z"])}
    >>> figure = top_results_grid(e, "name", "picture", queries=2, k=2)
    >>> len(figure.axes)
    6
    """
    q, x = np.asarray(embeddings[query], dtype=np.float64), np.asarray(embeddings[index], dtype=np.float64)
    n = len(q)
    k = min(k, n)
    raw_q = embeddings.get(f"{query}__raw", np.asarray([f"{query} {i}" for i in range(n)]))
    raw_x = embeddings.get(f"{index}__raw", np.asarray([f"{index} {i}" for i in range(n)]))
    picked = np.sort(np.random.default_rng(seed).choice(n, size=min(queries, n), replace=False))
    figure = Figure(figsize=(1.7 * (k + 1), 1.8 * len(picked) + 0.5), dpi=DPI, layout="constrained")
    grid = figure.subplots(len(picked), k + 1, squeeze=False)
    for row, i in enumerate(picked):
        order = np.argsort(-(x @ q[i]), kind="stable")[:k]
        _draw_item(grid[row, 0], raw_q[i])
        grid[row, 0].set_title("query" if row == 0 else "", fontsize=9)
        for col, j in enumerate(order, start=1):
            hit = str(raw_x[j]) == str(raw_x[i]) or str(raw_q[j]) == str(raw_q[i])  # the partner, or an equal pair
            _draw_item(grid[row, col], raw_x[j], hit=hit)
            grid[row, col].set_title(f"#{col}" if row == 0 else "", fontsize=9)
    figure.suptitle(title or f"{query} -> {index}: top {k} (green: a match of the query)")
    return figure
