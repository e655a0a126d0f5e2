"""`load_spec`: read a YAML/JSON file or a dict and validate it into a `Spec`."""

import collections.abc
import dataclasses
import json
import os
import typing

import yaml

from mmkeras.encoders.registry import ENCODERS, default_encoder
from mmkeras.errors import SpecError
from mmkeras.fusion.registry import FUSIONS, fusion_options
from mmkeras.jit import DETERMINISM_NOTE
from mmkeras.specs import schema
from mmkeras.tasks.outputs.heads import HEADS


def _fail(source, path, message):
    where = f"{source}: " if source else ""
    raise SpecError(f"{where}{path}: {message}")


def _choices(values):
    return ", ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in values)


_SCALARS = {  # annotation: (accepts the value, what a rejected value is not, conversion)
    bool: (lambda v: isinstance(v, bool), "true or false", bool),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer", int),
    float: (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number", float),
    str: (lambda v: isinstance(v, str), "a string", str),
}


def _check_type(source, path, value, annotation):
    """Coerces `value` to the annotated type or fails with a clear message."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(source, path, value, arg)
            except SpecError as e:
                errors.append(e)
        names = [getattr(a, "__name__", str(a)) for a in args if a is not type(None)]
        if type(None) in args:
            names.append("null")
        _fail(source, path, f"{value!r} is not a {' or '.join(names)}")
    if origin in (tuple, typing.Tuple):
        if not isinstance(value, (list, tuple)):
            _fail(source, path, f"{value!r} is not a list")
        return tuple(_check_type(source, f"{path}[{i}]", v, args[0]) for i, v in enumerate(value))
    if annotation is typing.Any:
        return value
    if origin in (collections.abc.Mapping, dict) or annotation is dict:
        if not isinstance(value, dict):
            _fail(source, path, f"{value!r} is not a mapping")
        return dict(value)
    if annotation in _SCALARS:
        accepts, what, convert = _SCALARS[annotation]
        if not accepts(value):
            _fail(source, path, f"{value!r} is not {what}")
        return convert(value)
    raise TypeError(f"unsupported annotation {annotation!r}")


def _build(cls, raw, source, path, fixed=None, extra_ok=False):
    """Validates the mapping `raw` into dataclass `cls`.

    `fixed` holds fields already decided by the caller. Unknown keys are an
    error unless `extra_ok`, in which case they are returned separately.
    """
    fixed = dict(fixed or {})
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        _fail(source, path, f"{raw!r} is not a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in fixed}
    values, extra = {}, {}
    for key, value in raw.items():
        if key in fixed:
            continue
        if key not in fields:
            if extra_ok:
                extra[key] = value
                continue
            _fail(source, f"{path}.{key}", f"unknown key. Allowed keys: {_choices(sorted(fields))}")
        f = fields[key]
        if dataclasses.is_dataclass(hints[key]):
            continue  # nested sections are handled by the caller
        received = value
        value = _check_type(source, f"{path}.{key}", value, hints[key])
        meta = f.metadata
        if meta.get("choices") is not None and value not in meta["choices"]:
            _fail(source, f"{path}.{key}", f"{received!r} is not one of {_choices(meta['choices'])}")
        lo, xlo = meta.get("minimum"), meta.get("exclusive_minimum")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if lo is not None and value < lo:
                _fail(source, f"{path}.{key}", f"{received!r} is below the minimum {lo}")
            if xlo is not None and value <= xlo:
                _fail(source, f"{path}.{key}", f"{received!r} must be greater than {xlo}")
            xhi = meta.get("exclusive_maximum")
            if xhi is not None and value >= xhi:
                _fail(source, f"{path}.{key}", f"{received!r} must be less than {xhi}")
        values[key] = value
    for name, f in fields.items():
        if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            if dataclasses.is_dataclass(hints[name]):
                continue
            _fail(source, f"{path}.{name}", "is required")
    obj_fields = {**values, **fixed}
    return (obj_fields, extra) if extra_ok else obj_fields


def _encoder(raw, modality, source, path, base_dir=None):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        _fail(source, path, f"{raw!r} is not a mapping such as {{type: cnn}}")
    raw = dict(raw)
    name = raw.pop("type", None) or default_encoder(modality)
    known = ENCODERS.names_for(modality)
    if name not in known:
        _fail(source, f"{path}.type", f"{name!r} is not one of {_choices(known)}")
    allowed = ENCODERS.options_for(modality, name)
    for key in raw:
        if key not in allowed:
            _fail(source, f"{path}.{key}",
                  f"unknown option for the {modality} encoder {name!r}. Allowed: {_choices(allowed) or 'none'}")
    # An encoder may name options that hold file paths ({option: words that are not paths}):
    # like every path in a spec, they are relative to the spec file.
    for key, words in getattr(ENCODERS.get(modality, name), "path_options", {}).items():
        if base_dir and isinstance(raw.get(key), str) and raw[key] not in words:
            raw[key] = os.path.normpath(os.path.join(base_dir, raw[key]))
    return schema.EncoderSpec(type=name, options=raw)


def _sections(cls, raw, source, path):
    """The nested dataclass fields of an input class (e.g. an image's `augment`), validated."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if f.name != "encoder" and dataclasses.is_dataclass(hints[f.name]) and f.name in raw:
            section = hints[f.name]
            out[f.name] = section(**_build(section, raw[f.name], source, f"{path}.{f.name}"))
    return out


def _named(raw, source, section):
    """(name, options, key path) of each entry of the `inputs` or `outputs` mapping, names checked."""
    what = section[:-1]
    if not isinstance(raw, dict) or not raw:
        _fail(source, section, f"must be a non-empty mapping from {what} name to its options")
    for name, opts in raw.items():
        path = f"{section}.{name}"
        if not isinstance(name, str) or not name.isidentifier():
            _fail(source, path, f"{name!r} is not a valid {what} name (letters, digits, underscores)")
        yield name, opts, path


def _inputs(raw, source, base_dir):
    out = {}
    for name, opts, path in _named(raw, source, "inputs"):
        if name.startswith("_"):
            _fail(source, path, f"{name!r}: input names must not start with '_' (reserved, e.g. '_presence')")
        if not isinstance(opts, dict):
            _fail(source, path, f"{opts!r} is not a mapping")
        kind = opts.get("type")
        if kind not in schema.INPUT_TYPES:
            shown = "missing" if kind is None else f"{kind!r}"
            _fail(source, f"{path}.type", f"{shown} is not one of {_choices(schema.INPUT_TYPES)}")
        if "column" not in opts:
            _fail(source, f"{path}.column", "is required (the table column with this input)")
        cls = schema.INPUT_CLASSES[kind]
        enc = _encoder(opts.get("encoder"), kind, source, f"{path}.encoder", base_dir)
        fields = _build(cls, {k: v for k, v in opts.items() if k != "encoder"}, source, path,
                        fixed={"name": name, "type": kind, "encoder": enc})
        fields.update(_sections(cls, opts, source, path))
        if fields.get("embeddings") is not None:  # text: word vectors file, relative to the spec
            fields["embeddings"] = os.path.normpath(os.path.join(base_dir, fields["embeddings"]))
        out[name] = cls(**fields)
    return out


def _outputs(raw, source):
    out = {}
    for name, opts, path in _named(raw, source, "outputs"):
        fields = _build(schema.OutputSpec, opts, source, path, fixed={"name": name})
        if fields["type"] not in HEADS:
            _fail(source, f"{path}.type", f"{fields['type']!r} is not one of {_choices(HEADS.names())}")
        if fields.get("positive") is not None and fields["type"] != "binary":
            _fail(source, f"{path}.positive", "is only allowed for type: binary")
        _check_output_options(fields, source, path)
        out[name] = schema.OutputSpec(**fields)
    return out


def _check_output_options(fields, source, path):
    """Output options that depend on the type: multilabel's separator and thresholds, class_weight."""
    kind = fields["type"]
    defaults = {f.name: f.default for f in dataclasses.fields(schema.OutputSpec)}
    for key in ("separator", "threshold"):  # the default is allowed: `Spec.to_dict` writes every field
        if key in fields and fields[key] != defaults[key] and kind != "multilabel":
            _fail(source, f"{path}.{key}", "is only allowed for type: multilabel")
    if "separator" in fields and not fields["separator"].strip():
        _fail(source, f"{path}.separator", f"{fields['separator']!r} is not a non-empty, non-blank string")
    threshold = fields.get("threshold", 0.5)
    items = threshold.items() if isinstance(threshold, dict) else [(None, threshold)]
    for label, value in items:
        where = f"{path}.threshold" + ("" if label is None else f".{label}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            _fail(source, where, f"{value!r} is not a number between 0 and 1")
    if isinstance(threshold, dict):
        fields["threshold"] = {str(k): float(v) for k, v in threshold.items()}
    if fields.get("class_weight") == "balanced" and kind == "regression":
        _fail(source, f"{path}.class_weight", "'balanced' is only allowed for classification, binary and "
                                              "multilabel outputs")


def _split(raw, source):
    fields = _build(schema.SplitSpec, raw, source, "data.split")
    split = schema.SplitSpec(**fields)
    parts = {"train": split.train, "validation": split.validation, "test": split.test}
    if split.column is None:
        for key, value in parts.items():
            if key == "train" and value == "train":
                continue
            if value is not None and not isinstance(value, float):
                _fail(source, f"data.split.{key}", f"{value!r} must be a fraction between 0 and 1 when no split column is given")
        if isinstance(split.train, str):  # the default: what the other fractions leave
            rest = sum(v for v in (split.validation, split.test) if isinstance(v, float))
            split = dataclasses.replace(split, train=1.0 - rest)
    else:
        if not isinstance(split.train, str):
            _fail(source, "data.split.train", f"{split.train!r} must be the value of column {split.column!r} that marks training rows")
    parts = {"train": split.train, "validation": split.validation, "test": split.test}
    for key, value in parts.items():
        if isinstance(value, float) and not (0 < value < 1 or (key == "train" and value == 1.0)):
            _fail(source, f"data.split.{key}", f"{value!r} is not a fraction between 0 and 1")
    fractions = [v for v in (split.train, split.validation, split.test) if isinstance(v, float)]
    if split.column is None and sum(fractions) > 1.0 + 1e-9:
        _fail(source, "data.split", f"fractions add up to {sum(fractions):g}, more than 1")
    if split.group is not None and (not split.group.strip() or split.group == split.column):
        _fail(source, "data.split.group", f"{split.group!r} must name the table column of each row's group "
                                          "(speaker, patient), not empty and not data.split.column")
    return split


def _tfds(raw, source, base_dir):
    """`data.tfds`: a TensorFlow Datasets dataset (name, data_dir relative to the spec, splits, download)."""
    fields = _build(schema.TfdsSpec, raw, source, "data.tfds")
    if not fields["name"].strip():
        _fail(source, "data.tfds.name", "'' is not a TFDS dataset name such as mnist or mnist:3.*.*")
    if fields.get("data_dir") is not None:
        fields["data_dir"] = os.path.normpath(os.path.join(base_dir, os.path.expanduser(fields["data_dir"])))
    split = schema.TfdsSplitSpec(**_build(schema.TfdsSplitSpec, raw.get("split"), source, "data.tfds.split"))
    for key in ("train", "validation", "test"):
        value = getattr(split, key)
        if isinstance(value, str) and not value.strip():
            _fail(source, f"data.tfds.split.{key}", "'' is not a TFDS split such as train or 'train[:90%]'")
    if isinstance(split.validation, float) and not 0 < split.validation < 1:
        _fail(source, "data.tfds.split.validation", f"{split.validation!r} is not a TFDS split (e.g. "
                                                    "'train[90%:]') or a fraction between 0 and 1")
    return schema.TfdsSpec(split=split, **fields)


def _check_table_keys_unset(fields, split, source):
    """With `data.tfds`, the table keys must keep their defaults (`Spec.to_dict` writes them)."""
    for key, default in (("path", None), ("root", None), ("read_options", {})):
        if fields.get(key, default) != default:
            _fail(source, f"data.{key}", "is not used with data.tfds (the examples come from the TFDS dataset); "
                                         "remove one of the two")
    if split != _split(None, source):
        _fail(source, "data.split", "is not used with data.tfds; give the TFDS splits in data.tfds.split, e.g. "
                                    "{train: 'train[:90%]', validation: 'train[90%:]', test: test}")


def _data(raw, source, base_dir):
    if raw is None:
        raw = {}
    tfds = None
    if isinstance(raw, dict) and raw.get("tfds") is not None:
        raw = dict(raw)
        tfds = _tfds(raw.pop("tfds"), source, base_dir)
    elif isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if k != "tfds"}
    fields = _build(schema.DataSpec, raw, source, "data")
    for key in ("path", "root"):
        if fields.get(key) is not None:
            fields[key] = os.path.normpath(os.path.join(base_dir, fields[key]))
    split = _split(raw.get("split"), source)
    if tfds is not None:
        _check_table_keys_unset(fields, split, source)
    return schema.DataSpec(split=split, tfds=tfds, **fields)


def _fusion(raw, source):
    fields, extra = _build(schema.FusionSpec, raw, source, "fusion", extra_ok=True, fixed={"options": None})
    fields.pop("options")
    name = fields.get("type", "concat")
    if name not in FUSIONS:
        _fail(source, "fusion.type", f"{name!r} is not one of {_choices(FUSIONS.names())}")
    allowed = fusion_options(name)
    for key in extra:
        if key not in allowed:
            base = [f.name for f in dataclasses.fields(schema.FusionSpec) if f.name != "options"]
            _fail(source, f"fusion.{key}", f"unknown key. Allowed keys: {_choices(sorted(base + list(allowed)))}")
    check = getattr(FUSIONS.get(name), "check_options", None)  # optional: (key, message) of a bad value
    problem = check(extra) if check is not None else None
    if problem:
        _fail(source, f"fusion.{problem[0]}", problem[1])
    return schema.FusionSpec(options=extra, **fields)


def _task(raw, source, inputs):
    """The top-level `task` section (a retrieval dual encoder), or None when the spec has `outputs`."""
    if raw.get("task") is None:
        return None
    fields = _build(schema.TaskSpec, raw["task"], source, "task")
    pair = fields["pair"]
    if len(pair) != 2:
        _fail(source, "task.pair", f"{list(pair)!r} must name exactly 2 inputs, e.g. [picture, name]")
    for i, name in enumerate(pair):
        if name not in inputs:
            _fail(source, f"task.pair[{i}]", f"{name!r} is not an input. Inputs: {_choices(inputs)}")
    if pair[0] == pair[1]:
        _fail(source, "task.pair", f"{list(pair)!r} must name two different inputs")
    if not 0.01 <= fields.get("temperature", 0.07) <= 1:
        _fail(source, "task.temperature", f"{fields['temperature']!r} is not in [0.01, 1] (CLIP's clamp)")
    for name in inputs:
        if name not in pair:
            _fail(source, f"inputs.{name}", f"is not used: task: retrieval reads only the pair {list(pair)}; "
                                            "remove this input")
    for key in ("outputs", "fusion"):
        if raw.get(key):
            _fail(source, key, "is not used with task: retrieval (each tower is its input's encoder and a "
                               "projection, trained with InfoNCE); remove it")
    return schema.TaskSpec(**fields)


def _training(raw, source):
    fields = _build(schema.TrainingSpec, raw, source, "training")
    if fields.get("jit_compile") is True and fields.get("deterministic"):
        _fail(source, "training.jit_compile", "true cannot be combined with training.deterministic: true: "
                                              f"{DETERMINISM_NOTE}; use auto or false")
    every = fields.get("checkpoint_every", "epoch")
    if every != "epoch" and not (isinstance(every, int) and every >= 1):
        _fail(source, "training.checkpoint_every", f"{every!r} is neither 'epoch' nor a number of steps >= 1")
    return schema.TrainingSpec(**fields)


def load_spec(spec, *, base_dir=None):
    """Reads and validates a spec into frozen dataclasses.

    Args:
        spec: path of a YAML or JSON file, or a dict with the same content.
        base_dir: folder that relative paths in a dict spec are taken from
            (default: the current directory). For a file, paths are relative
            to the file's folder.

    Returns:
        A `mmkeras.specs.Spec`.

    Raises:
        SpecError: naming the file, the key path, the value and what is allowed.

    Example:

    >>> spec = mmkeras.load_spec({
    ...     "spec_version": 1, "name": "tiny",
    ...     "inputs": {"x": {"type": "numeric", "column": "x"}},
    ...     "outputs": {"y": {"type": "regression", "column": "y"}}})
    >>> spec.inputs["x"].type
    'numeric'
    """
    source = None
    if isinstance(spec, schema.Spec):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        source = os.fspath(spec)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"Spec file not found: {source}")
        try:
            with open(source, encoding="utf-8") as f:
                text = f.read()
            raw = json.loads(text) if source.endswith(".json") else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as e:  # UnicodeDecodeError too: a file not in UTF-8
            raise SpecError(f"{source}: not valid {'JSON' if source.endswith('.json') else 'YAML'}: {e}") from None
        base_dir = os.path.dirname(os.path.abspath(source))
    elif isinstance(spec, dict):
        raw = spec
        base_dir = os.path.abspath(base_dir or os.getcwd())
    else:
        raise TypeError(f"load_spec expects a file path or a dict, got {type(spec).__name__}")
    if raw is None:
        _fail(source, "(top level)", "the spec is empty; it needs at least inputs and outputs")
    if not isinstance(raw, dict):
        _fail(source, "(top level)", f"{raw!r} is not a mapping")
    allowed = ("spec_version", "name", "data", "inputs", "fusion", "outputs", "training", "task")
    for key in raw:
        if key not in allowed:
            _fail(source, key, f"unknown key. Allowed keys: {_choices(allowed)}")
    version = raw.get("spec_version")
    if version != 1:
        _fail(source, "spec_version", f"{version!r} is not one of 1")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        _fail(source, "name", f"{name!r} is not a non-empty string")
    inputs = _inputs(raw.get("inputs"), source, base_dir)
    task = _task(raw, source, inputs)
    outputs = {} if task is not None else _outputs(raw.get("outputs"), source)
    clash = set(inputs) & set(outputs)
    if clash:
        _fail(source, f"outputs.{sorted(clash)[0]}", "has the same name as an input")
    return schema.Spec(
        spec_version=1,
        name=name,
        data=_data(raw.get("data"), source, base_dir),
        inputs=inputs,
        fusion=_fusion(raw.get("fusion"), source),
        outputs=outputs,
        training=_training(raw.get("training"), source),
        task=task,
        source=source,
    )
