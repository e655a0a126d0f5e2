"""One self-contained HTML page per run: `RUN_DIR/report.html` (what `mmkeras report` and `train` write).

The page holds the headline metrics, the examples per split, every plot
(PNG, embedded as base64 `data:` URIs), the metrics tables (per split and
output, per class, later evaluations), the modality importance, the model
summary and the resolved spec. It loads nothing: no network, no script, no
external style sheet, so it opens anywhere, offline, and can be mailed.
"""

import base64
import glob
import html
import json
import os

import numpy as np
import pandas as pd

from mmkeras.reports.figures import png_bytes, run_figures, save_plots
from mmkeras.reports.headline import format_value, headline_metrics, headline_rows
from mmkeras.reports.plots import new_figure
from mmkeras.reports.records import SUMMARY_FILE, held_out_split, read_run_info, write_text

REPORT_FILE = "report.html"
CV_REPORT_FILE = "cv_report.html"
NAME_CLASS = ' class="name"'
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.name, th.name { text-align: left; }
figure { display: inline-block; margin: 0.6em; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; text-align: center; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; line-height: 1.25; }
.facts span { margin-right: 1.5em; } .muted { color: #777; }
"""


def _e(value):
    return html.escape(str(value), quote=False)


def html_table(header, rows, *, names=1):
    """An HTML table: `header` cells, then `rows` (the first `names` cells of a row are left-aligned text).

    Example:

    >>> html_table(["split", "rows"], [["train", 10]])
    '<table><tr><th class="name">split</th><th>rows</th></tr><tr><td class="name">train</td><td>10</td></tr></table>'
    """
    def row(cells, tag):
        return "<tr>" + "".join(f'<{tag}{NAME_CLASS if i < names else ""}>{_e(c)}</{tag}>'
                                for i, c in enumerate(cells)) + "</tr>"
    return "<table>" + row(header, "th") + "".join(row(r, "td") for r in rows) + "</table>"


def headline_html(metrics):
    """The headline metrics (`mmkeras.reports.headline`) as one HTML table per output.

    Example:

    >>> "0.5000" in headline_html({"test": {"label": {"accuracy": 0.5}}})
    True
    """
    parts = []
    for group, names, rows in headline_rows(metrics):
        parts.append(html_table(["output", "split"] + names,
                                [[group, split] + [format_value(n, v) for n, v in zip(names, values)]
                                 for split, values in rows], names=2))
    return "".join(parts)


def metrics_html(metrics):
    """Every split's top-level numbers per output, then per-class (per-label) tables of each split.

    Example:

    >>> page = metrics_html({"test": {"label": {"accuracy": 0.5, "count": 4,
    ...                                         "per_class": {"a": {"precision": 1.0, "recall": 0.5}}}}})
    >>> "per class" in page and "0.5000" in page
    True
    """
    parts = []
    for split, outputs in metrics.items():
        for group, values in outputs.items():
            numbers = [(k, v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
            parts.append(f"<h3>{_e(split)}: {_e(group)}</h3>")
            parts.append(html_table(["metric", "value"], [[k, v if k == "count" else format_value(k, v)]
                                                         for k, v in numbers]))
            table = values.get("per_class") or values.get("per_label")
            if table:
                columns = list(dict.fromkeys(k for entry in table.values() for k in entry))
                rows = [[name] + [_cell(entry.get(c)) for c in columns] for name, entry in table.items()]
                parts.append(f"<p>{_e(group)} per class ({_e(split)})</p>" + html_table(["class"] + columns, rows))
    return "".join(parts)


def _cell(value):
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else value


def figures_html(images):
    """`<figure>`s with each PNG embedded as a `data:image/png;base64` URI, captioned by name.

    Example:

    >>> figures_html({"curves": b"PNG"})
    '<figure><img alt="curves" src="data:image/png;base64,UE5H"><figcaption>curves</figcaption></figure>'
    """
    return "".join(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
                   f'{base64.b64encode(data).decode("ascii")}"><figcaption>{_e(name.replace("_", " "))}'
                   "</figcaption></figure>" for name, data in images.items())


def _read(run_dir, name):
    path = os.path.join(run_dir, name)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f) if name.endswith(".json") else f.read()


def _facts(run_dir, spec, info):
    facts = [("task", info.get("task", "retrieval" if spec.get("task") else "outputs")),
             ("inputs", ", ".join(f"{n} ({i['type']})" for n, i in spec.get("inputs", {}).items())),
             ("epochs", info.get("epochs")),
             ("parameters", f"{info['parameters']:,}" if "parameters" in info else None),
             ("XLA", _xla(info)), ("training time", info.get("seconds")),
             ("written", info.get("created"))]
    shown = "".join(f"<span><b>{_e(k)}</b>: {_e(v)}{' s' if k == 'training time' else ''}</span>"
                    for k, v in facts if v not in (None, ""))
    return f'<p class="facts">{shown}</p><p class="muted">{_e(os.path.abspath(run_dir))}</p>'


def _xla(info):
    choice = info.get("jit_compile")
    if isinstance(choice, dict) and "enabled" in choice:
        return f"{'on' if choice['enabled'] else 'off'} ({choice.get('reason', '')})"
    return {True: "on", False: "off"}.get(info.get("xla"))


def _sizes(info):
    sizes = info.get("sizes")
    if not sizes:
        return '<p class="muted">not recorded for this run</p>'
    unit = info.get("unit", "rows")
    return html_table(["split", unit], [[k, v] for k, v in sizes.items()])


def _bad_rows(run_dir):
    summary = _read(run_dir, "bad_rows.json")  # written by a run with data.on_error: skip that dropped rows
    if not summary:
        return ""
    return (f"<h3>Skipped rows</h3><p>{_e(summary['count'])} bad rows dropped before training "
            "(data.on_error: skip), listed in bad_rows.csv</p>"
            + html_table(["reason", "rows"], [[k, v] for k, v in summary["by_reason"].items()]))


def _evaluations(run_dir):
    parts = []
    for path in sorted(glob.glob(os.path.join(run_dir, "evaluation*.json"))):
        with open(path, encoding="utf-8") as f:
            parts.append(f"<h3>{_e(os.path.basename(path))}</h3>" + headline_html(json.load(f)))
    return "".join(parts)


def _importance(run_dir):
    path = os.path.join(run_dir, "importance.csv")
    if not os.path.exists(path):
        return ""
    table = pd.read_csv(path)
    if not len(table):
        return ""
    rows = [[r["input"], r["type"], _cell(r["with_all"]), _cell(r["without"]), _cell(r["drop"]),
             "-" if pd.isna(r["fusion_weight"]) else f"{r['fusion_weight']:.3f}"] for _, r in table.iterrows()]
    return (f"<h2>Modality importance</h2><p>{_e(table['metric'].iloc[0])} on the held-out split with every input, "
            "and with each input masked as missing</p>"
            + html_table(["input", "type", "with all", "without", "drop", "fusion weight"], rows, names=2))


def render_report(run_dir, images=None):
    """The report page of a run as an HTML string.

    Args:
        run_dir: a run directory written by `mmkeras train`.
        images: `{name: PNG bytes}` of its plots (default: drawn now from the run's files).

    Example:

    >>> page = render_report(run_dir)
    >>> page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page and "<script" not in page
    True
    """
    spec = _read(run_dir, "spec.json") or {}
    metrics = _read(run_dir, "metrics.json") or {}
    info = read_run_info(run_dir)
    if images is None:
        images = {name: png_bytes(figure) for name, figure in run_figures(run_dir).items()}
    summary = _read(run_dir, SUMMARY_FILE)
    split = held_out_split(run_dir)
    body = [f"<h1>{_e(spec.get('name', 'run'))}</h1>", _facts(run_dir, spec, info),
            "<h2>Headline metrics</h2>", headline_html(metrics) or '<p class="muted">no metrics</p>',
            "<h2>Data</h2>", _sizes(info), _bad_rows(run_dir),
            "<h2>Plots</h2>", f'<p class="muted">held-out split: {_e(split or "-")}</p>', figures_html(images),
            "<h2>Metrics</h2>", metrics_html(metrics), _evaluations(run_dir), _importance(run_dir),
            "<h2>Model</h2>", f"<pre>{_e(summary)}</pre>" if summary else '<p class="muted">no model_summary.txt</p>',
            "<h2>Spec (resolved, every default filled in)</h2>", f"<pre>{_e(json.dumps(spec, indent=2))}</pre>"]
    return _page(f"{spec.get('name', 'run')}: mmkeras report", body)


def write_report(run_dir, out=None, *, plots=True):
    """Draws a run's plots (into `RUN_DIR/plots/` when `plots`) and writes its report page; returns the page's path.

    Args:
        run_dir: a run directory.
        out: the HTML file (default `RUN_DIR/report.html`).
        plots: also write the PNG files into `RUN_DIR/plots/`.

    Example:

    >>> path = write_report(run_dir)
    >>> os.path.basename(path), os.path.isfile(os.path.join(run_dir, "plots", "learning_curves.png"))
    ('report.html', True)
    """
    images = save_plots(run_dir) if plots else None
    page = render_report(run_dir, images)
    path = out or os.path.join(run_dir, REPORT_FILE)
    return write_text(path, page)


def _page(title, body):
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
            f"<style>{STYLE}</style></head><body>" + "\n".join(body) + "</body></html>\n")


def cv_figure(result):
    """Bars of each output's headline metric per fold, with the mean as a line.

    Example:

    >>> result = {"per_fold": [{"fold": 0, "metrics": {"label": {"accuracy": 0.5}}},
    ...                        {"fold": 1, "metrics": {"label": {"accuracy": 0.7}}}]}
    >>> cv_figure(result).axes[0].get_title()
    'label: accuracy per fold'
    """
    groups = [(group, headline_metrics(group, values)[0]) for group, values in result["per_fold"][0]["metrics"].items()
              if headline_metrics(group, values)]
    figure, axes = new_figure(max(1, len(groups)))
    for ax, (group, metric) in zip(axes, groups):
        values = [fold["metrics"][group].get(metric, float("nan")) for fold in result["per_fold"]]
        ax.bar([f"fold {fold['fold']}" for fold in result["per_fold"]], values, color="tab:blue")
        ax.axhline(float(np.nanmean(values)), color="tab:red", linestyle="--", label="mean")
        ax.set(title=f"{group}: {metric} per fold", ylabel=metric)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    return figure


def write_cv_report(folder, result):
    """Writes `FOLDER/cv_report.html` for a cross-validation result: mean ± std, every fold, a plot; returns its path.

    Example:

    >>> result = {"spec": "demo", "folds": 2, "rows": 4, "stratify": None,
    ...           "summary": {"label": {"accuracy": {"mean": 0.6, "std": 0.1, "folds": 2}}},
    ...           "per_fold": [{"fold": 0, "train_rows": 2, "test_rows": 2, "metrics": {"label": {"accuracy": 0.5}}},
    ...                        {"fold": 1, "train_rows": 2, "test_rows": 2, "metrics": {"label": {"accuracy": 0.7}}}]}
    >>> page = open(write_cv_report(tmp_dir, result)).read()
    >>> "0.6000 ± 0.1000" in page and "data:image/png;base64," in page
    True
    """
    summary = [[output, metric, f"{s['mean']:.4f} ± {s['std']:.4f}"]
               for output, metrics in result["summary"].items() for metric, s in metrics.items() if "." not in metric]
    folds = [[f["fold"], f["train_rows"], f["test_rows"]]
             + ["  ".join(f"{o}.{k}={v:.4f}" for o, m in f["metrics"].items() for k, v in m.items()
                          if isinstance(v, float) and k in headline_metrics(o, m))]
             for f in result["per_fold"]]
    body = [f"<h1>{_e(result['spec'])}: {result['folds']}-fold cross-validation</h1>",
            f"<p class=\"facts\"><span><b>rows</b>: {result['rows']}</span>"
            f"<span><b>stratified by</b>: {_e(result.get('stratify') or '-')}</span></p>",
            "<h2>Mean ± standard deviation over the folds</h2>",
            html_table(["output", "metric", "mean ± std"], summary, names=2),
            "<h2>Folds</h2>", html_table(["fold", "train rows", "held-out rows", "headline metrics"], folds, names=0),
            figures_html({"folds": png_bytes(cv_figure(result))})]
    return write_text(os.path.join(folder, CV_REPORT_FILE), _page(f"{result['spec']}: cross-validation", body))
