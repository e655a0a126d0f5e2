"""`load_spec`: read a YAML/JSON file or a dict and validate it into a `Spec`."""

import dataclasses
import json
import os

import yaml

from mmkeras.encoders.registry import ENCODERS, default_encoder
from mmkeras.errors import SpecError
from mmkeras.fusion.registry import FUSIONS, fusion_options
from mmkeras.jit import DETERMINISM_NOTE
from mmkeras.specs import schema
from mmkeras.specs.checks import build, choices, fail, named, sections
from mmkeras.tasks.outputs.heads import HEADS


def _encoder(raw, modality, source, path, base_dir=None):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        fail(source, path, f"{raw!r} is not a mapping such as {{type: cnn}}")
    raw = dict(raw)
    name = raw.pop("type", None) or default_encoder(modality)
    known = ENCODERS.names_for(modality)
    if name not in known:
        fail(source, f"{path}.type", f"{name!r} is not one of {choices(known)}")
    allowed = ENCODERS.options_for(modality, name)
    for key in raw:
        if key not in allowed:
            fail(source, f"{path}.{key}",
                  f"unknown option for the {modality} encoder {name!r}. Allowed: {choices(allowed) or 'none'}")
    # An encoder may name options that hold file paths ({option: words that are not paths}):
    # like every path in a spec, they are relative to the spec file.
    for key, words in getattr(ENCODERS.get(modality, name), "path_options", {}).items():
        if base_dir and isinstance(raw.get(key), str) and raw[key] not in words:
            raw[key] = os.path.normpath(os.path.join(base_dir, raw[key]))
    return schema.EncoderSpec(type=name, options=raw)


def _inputs(raw, source, base_dir):
    out = {}
    for name, opts, path in named(raw, source, "inputs"):
        if name.startswith("_"):
            fail(source, path, f"{name!r}: input names must not start with '_' (reserved, e.g. '_presence')")
        if not isinstance(opts, dict):
            fail(source, path, f"{opts!r} is not a mapping")
        kind = opts.get("type")
        if kind not in schema.INPUT_TYPES:
            shown = "missing" if kind is None else f"{kind!r}"
            fail(source, f"{path}.type", f"{shown} is not one of {choices(schema.INPUT_TYPES)}")
        if "column" not in opts:
            fail(source, f"{path}.column", "is required (the table column with this input)")
        cls = schema.INPUT_CLASSES[kind]
        enc = _encoder(opts.get("encoder"), kind, source, f"{path}.encoder", base_dir)
        fields = build(cls, {k: v for k, v in opts.items() if k != "encoder"}, source, path,
                        fixed={"name": name, "type": kind, "encoder": enc})
        fields.update(sections(cls, opts, source, path))
        if fields.get("embeddings") is not None:  # text: word vectors file, relative to the spec
            fields["embeddings"] = os.path.normpath(os.path.join(base_dir, fields["embeddings"]))
        out[name] = cls(**fields)
    return out


def _outputs(raw, source):
    out = {}
    for name, opts, path in named(raw, source, "outputs"):
        fields = build(schema.OutputSpec, opts, source, path, fixed={"name": name})
        if fields["type"] not in HEADS:
            fail(source, f"{path}.type", f"{fields['type']!r} is not one of {choices(HEADS.names())}")
        if fields.get("positive") is not None and fields["type"] != "binary":
            fail(source, f"{path}.positive", "is only allowed for type: binary")
        _check_output_options(fields, source, path)
        out[name] = schema.OutputSpec(**fields)
    return out


def _check_output_options(fields, source, path):
    """Output options that depend on the type: multilabel's separator and thresholds, class_weight."""
    kind = fields["type"]
    defaults = {f.name: f.default for f in dataclasses.fields(schema.OutputSpec)}
    for key in ("separator", "threshold"):  # the default is allowed: `Spec.to_dict` writes every field
        if key in fields and fields[key] != defaults[key] and kind != "multilabel":
            fail(source, f"{path}.{key}", "is only allowed for type: multilabel")
    if "separator" in fields and not fields["separator"].strip():
        fail(source, f"{path}.separator", f"{fields['separator']!r} is not a non-empty, non-blank string")
    threshold = fields.get("threshold", 0.5)
    items = threshold.items() if isinstance(threshold, dict) else [(None, threshold)]
    for label, value in items:
        where = f"{path}.threshold" + ("" if label is None else f".{label}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            fail(source, where, f"{value!r} is not a number between 0 and 1")
    if isinstance(threshold, dict):
        fields["threshold"] = {str(k): float(v) for k, v in threshold.items()}
    if fields.get("class_weight") == "balanced" and kind == "regression":
        fail(source, f"{path}.class_weight", "'balanced' is only allowed for classification, binary and "
                                              "multilabel outputs")


def _split(raw, source):
    fields = build(schema.SplitSpec, raw, source, "data.split")
    split = schema.SplitSpec(**fields)
    parts = {"train": split.train, "validation": split.validation, "test": split.test}
    if split.column is None:
        for key, value in parts.items():
            if key == "train" and value == "train":
                continue
            if value is not None and not isinstance(value, float):
                fail(source, f"data.split.{key}", f"{value!r} must be a fraction between 0 and 1 when no split column is given")
        if isinstance(split.train, str):  # the default: what the other fractions leave
            rest = sum(v for v in (split.validation, split.test) if isinstance(v, float))
            split = dataclasses.replace(split, train=1.0 - rest)
    else:
        if not isinstance(split.train, str):
            fail(source, "data.split.train", f"{split.train!r} must be the value of column {split.column!r} that marks training rows")
    parts = {"train": split.train, "validation": split.validation, "test": split.test}
    for key, value in parts.items():
        if isinstance(value, float) and not (0 < value < 1 or (key == "train" and value == 1.0)):
            fail(source, f"data.split.{key}", f"{value!r} is not a fraction between 0 and 1")
    fractions = [v for v in (split.train, split.validation, split.test) if isinstance(v, float)]
    if split.column is None and sum(fractions) > 1.0 + 1e-9:
        fail(source, "data.split", f"fractions add up to {sum(fractions):g}, more than 1")
    if split.group is not None and (not split.group.strip() or split.group == split.column):
        fail(source, "data.split.group", f"{split.group!r} must name the table column of each row's group "
                                          "(speaker, patient), not empty and not data.split.column")
    return split


def _tfds(raw, source, base_dir):
    """`data.tfds`: a TensorFlow Datasets dataset (name, data_dir relative to the spec, splits, download)."""
    fields = build(schema.TfdsSpec, raw, source, "data.tfds")
    if not fields["name"].strip():
        fail(source, "data.tfds.name", "'' is not a TFDS dataset name such as mnist or mnist:3.*.*")
    if fields.get("data_dir") is not None:
        fields["data_dir"] = os.path.normpath(os.path.join(base_dir, os.path.expanduser(fields["data_dir"])))
    split = schema.TfdsSplitSpec(**build(schema.TfdsSplitSpec, raw.get("split"), source, "data.tfds.split"))
    for key in ("train", "validation", "test"):
        value = getattr(split, key)
        if isinstance(value, str) and not value.strip():
            fail(source, f"data.tfds.split.{key}", "'' is not a TFDS split such as train or 'train[:90%]'")
    if isinstance(split.validation, float) and not 0 < split.validation < 1:
        fail(source, "data.tfds.split.validation", f"{split.validation!r} is not a TFDS split (e.g. "
                                                    "'train[90%:]') or a fraction between 0 and 1")
    return schema.TfdsSpec(split=split, **fields)


def _check_table_keys_unset(fields, split, source):
    """With `data.tfds`, the table keys must keep their defaults (`Spec.to_dict` writes them)."""
    for key, default in (("path", None), ("root", None), ("read_options", {})):
        if fields.get(key, default) != default:
            fail(source, f"data.{key}", "is not used with data.tfds (the examples come from the TFDS dataset); "
                                         "remove one of the two")
    if split != _split(None, source):
        fail(source, "data.split", "is not used with data.tfds; give the TFDS splits in data.tfds.split, e.g. "
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
    fields = build(schema.DataSpec, raw, source, "data")
    for key in ("path", "root"):
        if fields.get(key) is not None:
            fields[key] = os.path.normpath(os.path.join(base_dir, fields[key]))
    split = _split(raw.get("split"), source)
    if tfds is not None:
        _check_table_keys_unset(fields, split, source)
    return schema.DataSpec(split=split, tfds=tfds, **fields)


def _fusion(raw, source):
    fields, extra = build(schema.FusionSpec, raw, source, "fusion", extra_ok=True, fixed={"options": None})
    fields.pop("options")
    name = fields.get("type", "concat")
    if name not in FUSIONS:
        fail(source, "fusion.type", f"{name!r} is not one of {choices(FUSIONS.names())}")
    allowed = fusion_options(name)
    for key in extra:
        if key not in allowed:
            base = [f.name for f in dataclasses.fields(schema.FusionSpec) if f.name != "options"]
            fail(source, f"fusion.{key}", f"unknown key. Allowed keys: {choices(sorted(base + list(allowed)))}")
    check = getattr(FUSIONS.get(name), "check_options", None)  # optional: (key, message) of a bad value
    problem = check(extra) if check is not None else None
    if problem:
        fail(source, f"fusion.{problem[0]}", problem[1])
    return schema.FusionSpec(options=extra, **fields)


def _task(raw, source, inputs):
    """The top-level `task` section (a retrieval dual encoder), or None when the spec has `outputs`."""
    if raw.get("task") is None:
        return None
    fields = build(schema.TaskSpec, raw["task"], source, "task")
    pair = fields["pair"]
    if len(pair) != 2:
        fail(source, "task.pair", f"{list(pair)!r} must name exactly 2 inputs, e.g. [picture, name]")
    for i, name in enumerate(pair):
        if name not in inputs:
            fail(source, f"task.pair[{i}]", f"{name!r} is not an input. Inputs: {choices(inputs)}")
    if pair[0] == pair[1]:
        fail(source, "task.pair", f"{list(pair)!r} must name two different inputs")
    if not 0.01 <= fields.get("temperature", 0.07) <= 1:
        fail(source, "task.temperature", f"{fields['temperature']!r} is not in [0.01, 1] (CLIP's clamp)")
    for name in inputs:
        if name not in pair:
            fail(source, f"inputs.{name}", f"is not used: task: retrieval reads only the pair {list(pair)}; "
                                            "remove this input")
    for key in ("outputs", "fusion"):
        if raw.get(key):
            fail(source, key, "is not used with task: retrieval (each tower is its input's encoder and a "
                               "projection, trained with InfoNCE); remove it")
    return schema.TaskSpec(**fields)


def _training(raw, source):
    fields = build(schema.TrainingSpec, raw, source, "training")
    if fields.get("jit_compile") is True and fields.get("deterministic"):
        fail(source, "training.jit_compile", "true cannot be combined with training.deterministic: true: "
                                              f"{DETERMINISM_NOTE}; use auto or false")
    every = fields.get("checkpoint_every", "epoch")
    if every != "epoch" and not (isinstance(every, int) and every >= 1):
        fail(source, "training.checkpoint_every", f"{every!r} is neither 'epoch' nor a number of steps >= 1")
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
        fail(source, "(top level)", "the spec is empty; it needs at least inputs and outputs")
    if not isinstance(raw, dict):
        fail(source, "(top level)", f"{raw!r} is not a mapping")
    allowed = ("spec_version", "name", "data", "inputs", "fusion", "outputs", "training", "task")
    for key in raw:
        if key not in allowed:
            fail(source, key, f"unknown key. Allowed keys: {choices(allowed)}")
    version = raw.get("spec_version")
    if version != 1:
        fail(source, "spec_version", f"{version!r} is not one of 1")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        fail(source, "name", f"{name!r} is not a non-empty string")
    inputs = _inputs(raw.get("inputs"), source, base_dir)
    task = _task(raw, source, inputs)
    outputs = {} if task is not None else _outputs(raw.get("outputs"), source)
    clash = set(inputs) & set(outputs)
    if clash:
        fail(source, f"outputs.{sorted(clash)[0]}", "has the same name as an input")
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
