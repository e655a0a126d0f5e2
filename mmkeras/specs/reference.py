"""The README's spec reference, generated from the spec dataclasses and the registries so it never drifts.

Every key a spec may hold is a dataclass field in `mmkeras.specs.schema`
(type, default, allowed values and a one-line `doc` in its metadata); the
encoders', fusions' and output types' options come from their registries.
`spec_reference()` renders them as Markdown tables. The README holds that
text between two markers; the test suite runs

    python -m mmkeras.specs.reference --check README.md

which fails when the README is not current; `--write README.md` updates it.
"""

import argparse
import dataclasses
import inspect
import sys
import typing

from mmkeras import encoders
from mmkeras.fusion.registry import FUSIONS, fusion_options
from mmkeras.specs import schema
from mmkeras.tasks.outputs.heads import HEADS

BEGIN = ("<!-- spec-reference: generated from mmkeras/specs/schema.py and the registries by "
         "`python -m mmkeras.specs.reference --write README.md`; do not edit by hand -->")
END = "<!-- end of spec-reference -->"
HEADER = "| key | type | default | allowed | description |\n| --- | --- | --- | --- | --- |"
SECTIONS = [  # (title, dataclass, key prefix, fields of a base class left out)
    ("Top level", None, "", ()),
    ("`data`", schema.DataSpec, "data.", ()),
    ("Every input (`inputs.<name>`)", schema.InputSpec, "inputs.<name>.", ("name",)),
]


def type_name(annotation):
    """A field's annotation in words: `int`, `list of int`, `str or null`, `mapping`.

    Example:

    >>> type_name(typing.Optional[typing.Tuple[int, ...]]), type_name(typing.Union[str, float, None])
    ('list of int or null', 'str, float or null')
    """
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union:
        names = [type_name(a) for a in args if a is not type(None)] + (["null"] if type(None) in args else [])
        return ", ".join(names[:-1]) + " or " + names[-1]
    if origin in (tuple, list):
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is not None and "Mapping" in str(origin):
        return "mapping"
    if dataclasses.is_dataclass(annotation):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def _value(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return str(list(value))
    return str(value)


def default_text(field):
    """A field's default as the README shows it (`required` when it has none).

    Example:

    >>> default_text(next(f for f in dataclasses.fields(schema.TrainingSpec) if f.name == "deterministic"))
    'false'
    """
    if field.default is not dataclasses.MISSING:
        return _value(field.default)
    if field.default_factory is not dataclasses.MISSING:
        made = field.default_factory()
        return "(section)" if dataclasses.is_dataclass(made) else _value(made)
    return "required"


def allowed_text(field):
    """The allowed values or bounds from a field's metadata (`a, b`, `>= 1`, `> 0, < 1`), or empty.

    Example:

    >>> allowed_text(next(f for f in dataclasses.fields(schema.TrainingSpec) if f.name == "cache"))
    'none, memory, disk'
    """
    meta = field.metadata
    if meta.get("choices"):
        return ", ".join(_value(c) for c in meta["choices"])
    bounds = [f"{op} {meta[key]:g}" for key, op in (("minimum", ">="), ("exclusive_minimum", ">"),
                                                     ("exclusive_maximum", "<")) if meta.get(key) is not None]
    return ", ".join(bounds)


EXTRA = {  # (class, field): (allowed, description, default) for fields without metadata
    ("InputSpec", "type"): (", ".join(schema.INPUT_TYPES), "the input's modality", None),
    ("InputSpec", "column"): ("", "the table column holding the input (file paths for image, audio, video)", None),
    ("InputSpec", "encoder"): ("see Encoders", "`{type: <encoder>, <option>: ...}`", "the modality's default"),
    ("OutputSpec", "type"): (", ".join(HEADS.names()), None, None),
}


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def field_rows(cls, prefix, skip=()):
    """Table rows (Markdown) of a dataclass's fields, nested sections (e.g. `augment`) expanded after them.

    Example:

    >>> field_rows(schema.TrainingSpec, "training.")[0]
    '| `training.epochs` | int | 10 | >= 1 | passes over the training split |'
    """
    hints = typing.get_type_hints(cls)
    rows, nested = [], []
    for f in dataclasses.fields(cls):
        if f.name in skip or f.name == "options":
            continue
        allowed, doc, default = EXTRA.get((cls.__name__, f.name), (None, None, None))
        section = next((a for a in (hints[f.name], *typing.get_args(hints[f.name])) if dataclasses.is_dataclass(a)),
                       None)  # a section, or an optional one (`data.tfds`)
        if f.name != "encoder" and section is not None:
            nested.append((section, f"{prefix}{f.name}."))
            continue
        kind = "mapping" if f.name == "encoder" else type_name(hints[f.name])
        rows.append(f"| `{prefix}{f.name}` | {_cell(kind)} | {_cell(default or default_text(f))} | "
                    f"{_cell(allowed if allowed is not None else allowed_text(f))} | "
                    f"{_cell(doc if doc is not None else f.metadata.get('doc', ''))} |")
    for section, section_prefix in nested:
        doc = (section.__doc__ or "").strip().splitlines()[0]
        rows.append(f"| `{section_prefix[:-1]}` | mapping | (section) | | {_cell(doc)} |")
        rows += field_rows(section, section_prefix)
    return rows


def _top_level_rows():
    return ["| `spec_version` | int | required | 1 | the spec format version |",
            "| `name` | str | required | | the spec's name (run and export names) |",
            "| `data` | mapping | | | the table and its split (below) |",
            "| `inputs` | mapping | required | | input name -> its options (below, per type) |",
            f"| `fusion` | mapping | concat | {', '.join(FUSIONS.names())} | how the encoded inputs are joined |",
            f"| `outputs` | mapping | | | output name -> its options; types {', '.join(HEADS.names())} |",
            "| `training` | mapping | | | how the model is fitted (below) |",
            "| `task` | mapping | null | retrieval | instead of `outputs`: a contrastive dual encoder (below) |"]


def _options_table(title, options):
    """A Markdown table of registered things and their keyword options: [(name, [(option, default)])]."""
    lines = [f"**{title}**", "", "| type | options (default) |", "| --- | --- |"]
    for name, found in options:
        shown = ", ".join(f"`{k}` ({_value(v)})" for k, v in found) or "(none)"
        lines.append(f"| `{name}` | {_cell(shown)} |")
    return lines


def _keyword_defaults(function, names=None):
    params = inspect.signature(function).parameters.values()
    return [(p.name, None if p.default is inspect.Parameter.empty else p.default) for p in params
            if (names is None and p.kind is p.KEYWORD_ONLY) or (names is not None and p.name in names)]


def spec_reference():
    """The spec reference as Markdown: one table per section and input type, then encoders, fusions, outputs.

    Example:

    >>> text = spec_reference()
    >>> "| `training.epochs` | int | 10 | >= 1 |" in text and "`inputs.<name>.height`" in text
    True
    """
    lines = []
    for title, cls, prefix, skip in SECTIONS:
        rows = _top_level_rows() if cls is None else field_rows(cls, prefix, skip)
        lines += [f"**{title}**", "", HEADER, *rows, ""]
    for kind, cls in schema.INPUT_CLASSES.items():
        rows = field_rows(cls, "inputs.<name>.", skip=[f.name for f in dataclasses.fields(schema.InputSpec)])
        lines += [f"**`type: {kind}` inputs**", "", HEADER, *rows, ""] if rows else []
    encoder_rows = [(f"{modality}: {name}", _keyword_defaults(encoders.ENCODERS.get(modality, name)))
                    for modality in schema.INPUT_CLASSES for name in encoders.ENCODERS.names_for(modality)]
    lines += _options_table("Encoders (`inputs.<name>.encoder: {type: ..., <option>: ...}`; default first per "
                            "modality: " + ", ".join(f"{m} {encoders.default_encoder(m)}"
                                                     for m in schema.INPUT_CLASSES) + ")", encoder_rows) + [""]
    lines += [f"**`fusion`**", "", HEADER, *field_rows(schema.FusionSpec, "fusion."), ""]
    fusion_rows = [(name, _keyword_defaults(FUSIONS.get(name).__init__, fusion_options(name)))
                   for name in FUSIONS.names()]
    lines += _options_table("Fusion types (`fusion: {type: ..., <option>: ...}`)", fusion_rows) + [""]
    lines += ["**`outputs.<name>`**", "", HEADER, *field_rows(schema.OutputSpec, "outputs.<name>.", ("name",)), ""]
    lines += ["**`training`**", "", HEADER, *field_rows(schema.TrainingSpec, "training."), ""]
    lines += ["**`task`** (retrieval)", "", HEADER, *field_rows(schema.TaskSpec, "task."), ""]
    return "\n".join(lines).rstrip() + "\n"


def replace_reference(text, reference=None):
    """`text` (the README) with the part between the markers replaced by `reference` (default: generated now).

    Raises:
        ValueError: the markers are missing.

    Example:

    >>> replace_reference(f"intro\\n{BEGIN}\\nold\\n{END}\\nrest", "new\\n").splitlines()[2]
    'new'
    """
    if BEGIN not in text or END not in text:
        raise ValueError(f"the README has no spec reference markers ({BEGIN!r} ... {END!r})")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{reference if reference is not None else spec_reference()}{END}{tail}"


def main(argv=None):
    """`python -m mmkeras.specs.reference --check|--write README.md`; returns the exit status (1: not current).

    Example:

    >>> path = os.path.join(tmp_dir, "README.md")
    >>> _ = open(path, "w").write(f"{BEGIN}\\n{END}\\n")
    >>> main(["--write", path]), main(["--check", path])
    (0, 0)
    """
    parser = argparse.ArgumentParser(prog="python -m mmkeras.specs.reference", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", metavar="README", help="exit 1 when the README's reference is not current")
    mode.add_argument("--write", metavar="README", help="update the README's reference in place")
    args = parser.parse_args(argv)
    path = args.check or args.write
    with open(path, encoding="utf-8") as f:
        text = f.read()
    updated = replace_reference(text)
    if args.check:
        if updated != text:
            print(f"{path}: the spec reference is not current; run python -m mmkeras.specs.reference --write {path}",
                  file=sys.stderr)
            return 1
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
