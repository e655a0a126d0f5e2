"""Text tables of a run's figures, as the command line prints them.

Pure functions over the dicts and DataFrames the runs write (`metrics.json`,
`importance.csv`, `cv.json`): each returns a list of lines.
"""

import numpy as np


def format_metrics(metrics, indent="  "):
    """Short text lines (headline metrics only: the top-level numbers) for printing.

    Args:
        metrics: `{split: {output: {metric: value}}}` as in `metrics.json`.
        indent: put before every line.

    Returns:
        One line per split and output, its float metrics as `name=value`.

    Example:

    >>> format_metrics({"test": {"label": {"accuracy": 0.5, "per_class": {}}}})
    ['  test       label        accuracy=0.5000']
    """
    lines = []
    for split, outputs in metrics.items():
        for name, m in outputs.items():
            shown = {k: v for k, v in m.items() if isinstance(v, float)}
            lines.append(f"{indent}{split:<10} {name:<12} " + "  ".join(f"{k}={v:.4f}" for k, v in shown.items()))
    return lines


def format_retrieval(metrics, indent="  "):
    """Text lines: per split and direction, recall@k against chance and the median rank.

    Args:
        metrics: `{split: {"retrieval": {"<a>_to_<b>_recall@<k>": ...}}}` as a retrieval run writes it.
        indent: put before every line.

    Returns:
        One line per split and direction.

    Example:

    >>> m = {"a_to_b_recall@1": 1.0, "a_to_b_chance@1": 0.5, "a_to_b_median_rank": 1.0, "count": 2}
    >>> format_retrieval({"test": {"retrieval": m}})
    ['  test       a_to_b               R@1 1.000 (chance 0.500)  median rank 1.0 of 2']
    """
    lines = []
    for split, groups in metrics.items():
        m = groups.get("retrieval", {})
        directions = list(dict.fromkeys(key.split("_recall@")[0] for key in m if "_recall@" in key))
        for prefix in directions:
            ks = sorted(int(key.rsplit("@", 1)[1]) for key in m if key.startswith(f"{prefix}_recall@"))
            shown = "  ".join(f"R@{k} {m[f'{prefix}_recall@{k}']:.3f} (chance {m[f'{prefix}_chance@{k}']:.3f})"
                              for k in ks)
            lines.append(f"{indent}{split:<10} {prefix:<20} {shown}  median rank "
                         f"{m[f'{prefix}_median_rank']:.1f} of {m.get('count', '?')}")
    return lines


def format_importance(table):
    """The modality importance table as aligned text lines for printing.

    Args:
        table: a DataFrame from `mmkeras.modality_importance` (columns `input`,
            `type`, `metric`, `with_all`, `without`, `drop`, `fusion_weight`).

    Returns:
        A title line, a header and one line per input; no lines for an empty table.

    Example:

    >>> table = pd.DataFrame([{"input": "picture", "type": "image", "metric": "label.accuracy",
    ...                        "with_all": 0.9, "without": 0.5, "drop": 0.4, "fusion_weight": float("nan")}])
    >>> print("\\n".join(format_importance(table)))
    modality importance (label.accuracy: 0.9000 with all inputs)
      input          type          without     drop  fusion weight
      picture        image          0.5000   0.4000              -
    """
    if len(table) == 0:
        return []
    lines = [f"modality importance ({table['metric'].iloc[0]}: {table['with_all'].iloc[0]:.4f} with all inputs)",
             f"  {'input':<14} {'type':<12} {'without':>8} {'drop':>8} {'fusion weight':>14}"]
    for _, r in table.iterrows():
        weight = "-" if np.isnan(r["fusion_weight"]) else f"{r['fusion_weight']:.3f}"
        lines.append(f"  {r['input']:<14} {r['type']:<12} {r['without']:>8.4f} {r['drop']:>8.4f} {weight:>14}")
    return lines


def format_cv(result):
    """Text lines of a cross-validation: mean ± std of each output's headline metrics, then one line per fold.

    Args:
        result: the dict `mmkeras.cross_validate` returns (as in `cv.json`).

    Returns:
        A title, a header, one line per output and top-level metric, one line per fold.

    Example:

    >>> result = {"spec": "demo", "folds": 2, "rows": 4, "stratify": None,
    ...           "summary": {"label": {"accuracy": {"mean": 0.75, "std": 0.25, "folds": 2}}},
    ...           "per_fold": [{"fold": 0, "train_rows": 2, "test_rows": 2, "metrics": {"label": {"accuracy": 0.5}}},
    ...                        {"fold": 1, "train_rows": 2, "test_rows": 2, "metrics": {"label": {"accuracy": 1.0}}}]}
    >>> print("\\n".join(format_cv(result)))
    2-fold cross-validation of demo (4 rows)
      output       metric             mean       std
      label        accuracy         0.7500 ± 0.2500
      fold 0: 2 train / 2 held out  label.accuracy=0.5000
      fold 1: 2 train / 2 held out  label.accuracy=1.0000
    """
    lines = [f"{result['folds']}-fold cross-validation of {result['spec']} ({result['rows']} rows"
             + (f", stratified by {result['stratify']})" if result["stratify"] else ")"),
             f"  {'output':<12} {'metric':<14} {'mean':>8}   {'std':>7}"]
    for output, metrics in result["summary"].items():
        for metric, s in metrics.items():
            if "." not in metric:
                lines.append(f"  {output:<12} {metric:<14} {s['mean']:8.4f} ± {s['std']:.4f}")
    for fold in result["per_fold"]:
        shown = "  ".join(f"{o}.{k}={v:.4f}" for o, m in fold["metrics"].items()
                          for k, v in m.items() if isinstance(v, float))
        lines.append(f"  fold {fold['fold']}: {fold['train_rows']} train / {fold['test_rows']} held out  {shown}")
    return lines
