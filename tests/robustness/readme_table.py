"""The README's table of robustness cases x behaviour, generated from the suite's case lists (`robust_cases`).

    python tests/robustness/readme_table.py --check README.md   # exit 1 when the table is not current
    python tests/robustness/readme_table.py --write README.md
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from robust_cases import OTHER_CASES, ROW_CASES, SPEC_CASES, TABLE_CASES  # noqa: E402

BEGIN = ("<!-- robustness-table: generated from tests/robustness/robust_cases.py by "
         "`python tests/robustness/readme_table.py --write README.md`; do not edit by hand -->")
END = "<!-- end of robustness-table -->"


def _spec_what(case):
    if isinstance(case.yaml, (str, bytes)):
        text = case.yaml if isinstance(case.yaml, str) else case.yaml.decode("latin-1")
        return f"spec file `{text.strip() or '(empty)'}`".replace("\n", " ").replace("|", "\\|")
    return f"spec with `{case.yaml}`".replace("|", "\\|")


def table_lines():
    """The markdown lines of the table: case, what it gives mmkeras, what mmkeras does (and the test)."""
    lines = ["| case | input | behaviour | test |", "| --- | --- | --- | --- |"]
    for c in ROW_CASES:
        where = "output" if c.input == "label" else "input"
        what = c.id.replace("_", " ").replace("png", "PNG").replace("wav", "WAV").replace("1mb", "1 MB")
        lines.append(f"| `{c.id}` | {what} ({where} `{c.input}`, a {c.split} row) | {c.behaviour} "
                     "| test_robust_rows.py |")
    for c in TABLE_CASES:
        lines.append(f"| `{c.id}` | {c.what} | {c.behaviour} | test_robust_rows.py |")
    for c in SPEC_CASES:
        lines.append(f"| `{c.id}` | {_spec_what(c)} | {c.behaviour} | test_robust_specs.py |")
    for c in OTHER_CASES:
        lines.append(f"| `{c.id}` | {c.what} | {c.behaviour} | {c.test} |")
    return lines


def render(readme_text):
    """`readme_text` with the table between BEGIN and END replaced by the current one."""
    start, end = readme_text.index(BEGIN), readme_text.index(END)
    return readme_text[:start] + BEGIN + "\n" + "\n".join(table_lines()) + "\n" + readme_text[end:]


def main(argv=None):
    """`--check README.md` (exit 1 when not current) or `--write README.md`."""
    mode, path = argv if argv is not None else sys.argv[1:3]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    new = render(text)
    if mode == "--write":
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
    elif new != text:
        print(f"{path}: the robustness table is not current; run {__file__} --write {path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
