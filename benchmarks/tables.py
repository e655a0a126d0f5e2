"""Markdown tables of benchmark rows, shared by the report modules."""


def fmt(v):
    """A cell: floats to 3 significant digits (whole numbers from 1000), booleans yes/no, None empty.

    Example:

    >>> fmt(0.123456), fmt(12345.6), fmt(True), fmt(None)
    ('0.123', '12346', 'yes', '')
    """
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return "" if v is None else str(v)


def table(rows, columns=None):
    """Rows (dicts) as a Markdown table; `columns` default to every scalar key in order; "(not run)" when empty.

    Example:

    >>> print(table([{"a": 1, "b": 0.5}]), end="")
    | a | b |
    |---|---|
    | 1 | 0.5 |
    """
    rows = [r for r in rows if isinstance(r, dict)]
    if not rows:
        return "(not run)\n"
    columns = columns or list(dict.fromkeys(k for r in rows for k, v in r.items() if not isinstance(v, (dict, list))))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")).replace("|", "\\|") for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"
