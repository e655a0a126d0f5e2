"""The headline metrics of a run: a few numbers per split and output, printed at the end of train and evaluate.

Pure functions over `metrics.json`'s `{split: {output: {metric: value}}}`
(retrieval runs: `{split: {"retrieval": {...}}}`); the HTML report shows
the same table.
"""

HEADLINE_METRICS = ("accuracy", "macro_f1", "roc_auc", "micro_f1", "subset_accuracy", "r2", "mae", "rmse")
RETRIEVAL_SUFFIXES = ("_recall@1", "_recall@5", "_recall@10", "_median_rank")
MOST = 4  # metrics per output for a head whose metrics are not listed above


def headline_metrics(group, values):
    """The names of the headline metrics of one output (or of `"retrieval"`), in display order.

    Example:

    >>> headline_metrics("label", {"accuracy": 0.9, "macro_f1": 0.8, "weighted_f1": 0.8, "count": 10})
    ['accuracy', 'macro_f1']
    >>> headline_metrics("retrieval", {"a_to_b_recall@1": 0.5, "a_to_b_chance@1": 0.1, "count": 9})
    ['a_to_b_recall@1']
    """
    floats = [k for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
              and k != "count"]
    if group == "retrieval":
        return [k for k in floats if k.endswith(RETRIEVAL_SUFFIXES)]
    known = [k for k in HEADLINE_METRICS if k in floats]
    return known or floats[:MOST]


def headline_rows(metrics):
    """(output, [metric names], [(split, [values])]) per output, over every split of `metrics`.

    Example:

    >>> headline_rows({"test": {"label": {"accuracy": 0.5, "count": 4}}})
    [('label', ['accuracy'], [('test', [0.5])])]
    """
    groups = {}
    for split, outputs in metrics.items():
        for group, values in outputs.items():
            names = groups.setdefault(group, (headline_metrics(group, values), []))[0]
            groups[group][1].append((split, [values.get(n) for n in names]))
    return [(group, names, rows) for group, (names, rows) in groups.items()]


def format_value(name, value):
    """A metric value as the tables show it: ranks with 1 decimal, other numbers with 4, `-` when absent.

    Example:

    >>> format_value("accuracy", 0.98765), format_value("a_to_b_median_rank", 3.0), format_value("r2", None)
    ('0.9877', '3.0', '-')
    """
    if value is None:
        return "-"
    if name.endswith("_rank"):
        return f"{value:.1f}"
    return f"{value:.4f}"


def _short(name):
    return name.replace("_recall@", " R@").replace("_median_rank", " med.rank")


def format_headline(metrics, title="headline metrics"):
    """Aligned text lines: per output a header of its headline metrics, then one line per split.

    Args:
        metrics: `{split: {output: {metric: value}}}`.
        title: the first line (none when empty).

    Returns:
        A list of lines (empty when there are no metrics).

    Example:

    >>> print("\\n".join(format_headline({"validation": {"label": {"accuracy": 0.5, "macro_f1": 0.4}},
    ...                                   "test": {"label": {"accuracy": 0.75, "macro_f1": 0.7}}})))
    headline metrics
      output     split           accuracy    macro_f1
      label      validation        0.5000      0.4000
                 test              0.7500      0.7000
    """
    rows = headline_rows(metrics)
    if not rows:
        return []
    lines = [title] if title else []
    for group, names, values in rows:
        width = max([11] + [len(_short(n)) + 1 for n in names])
        lines.append(f"  {'output':<10} {'split':<12}" + "".join(f"{_short(n):>{width}}" for n in names))
        for i, (split, numbers) in enumerate(values):
            shown = "".join(f"{format_value(n, v):>{width}}" for n, v in zip(names, numbers))
            lines.append(f"  {group if i == 0 else '':<10} {split:<12}" + shown)
    return lines
