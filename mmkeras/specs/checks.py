"""The generic half of spec validation: dataclass fields from raw YAML/JSON values, errors naming the key path.

`build(cls, raw, source, path)` checks a mapping against a frozen dataclass of
`mmkeras.specs` (unknown keys, types, allowed values, bounds) and returns its
keyword arguments; `mmkeras.specs.loader` composes it into `load_spec`.
"""

import collections.abc
import dataclasses
import typing

from mmkeras.errors import SpecError


def fail(source, path, message):
    """Raises a SpecError "SOURCE: PATH: MESSAGE" (the file, the key path, what is wrong and what is allowed).

    Example:

    >>> fail("bad.yaml", "inputs.a.type", "'imag' is not one of image, text")
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: bad.yaml: inputs.a.type: 'imag' is not one of image, text
    """
    where = f"{source}: " if source else ""
    raise SpecError(f"{where}{path}: {message}")


def choices(values):
    """Allowed values as a message lists them (booleans as YAML writes them).

    Example:

    >>> choices([True, False, "auto"])
    'true, false, auto'
    """
    return ", ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in values)


SCALARS = {  # annotation: (accepts the value, what a rejected value is not, conversion)
    bool: (lambda v: isinstance(v, bool), "true or false", bool),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer", int),
    float: (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number", float),
    str: (lambda v: isinstance(v, str), "a string", str),
}


def check_type(source, path, value, annotation):
    """Coerces `value` to the annotated type or fails with a clear message.

    Example:

    >>> check_type("s.yaml", "training.epochs", 3, int)
    3
    >>> check_type("s.yaml", "training.epochs", "3", int)
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: s.yaml: training.epochs: '3' is not an integer
    """
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
                return check_type(source, path, value, arg)
            except SpecError as e:
                errors.append(e)
        names = [getattr(a, "__name__", str(a)) for a in args if a is not type(None)]
        if type(None) in args:
            names.append("null")
        fail(source, path, f"{value!r} is not a {' or '.join(names)}")
    if origin in (tuple, typing.Tuple):
        if not isinstance(value, (list, tuple)):
            fail(source, path, f"{value!r} is not a list")
        return tuple(check_type(source, f"{path}[{i}]", v, args[0]) for i, v in enumerate(value))
    if annotation is typing.Any:
        return value
    if origin in (collections.abc.Mapping, dict) or annotation is dict:
        if not isinstance(value, dict):
            fail(source, path, f"{value!r} is not a mapping")
        return dict(value)
    if annotation in SCALARS:
        accepts, what, convert = SCALARS[annotation]
        if not accepts(value):
            fail(source, path, f"{value!r} is not {what}")
        return convert(value)
    raise TypeError(f"unsupported annotation {annotation!r}")


def build(cls, raw, source, path, fixed=None, extra_ok=False):
    """Validates the mapping `raw` into dataclass `cls`.

    `fixed` holds fields already decided by the caller. Unknown keys are an
    error unless `extra_ok`, in which case they are returned separately.

    Example:

    >>> from mmkeras.specs.inputs import ImageAugmentSpec
    >>> build(ImageAugmentSpec, {"flip": "horizontal"}, "s.yaml", "inputs.picture.augment")["flip"]
    'horizontal'
    >>> build(ImageAugmentSpec, {"flop": 1}, "s.yaml", "inputs.picture.augment")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: s.yaml: inputs.picture.augment.flop: unknown key...
    """
    fixed = dict(fixed or {})
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        fail(source, path, f"{raw!r} is not a mapping")
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
            fail(source, f"{path}.{key}", f"unknown key. Allowed keys: {choices(sorted(fields))}")
        f = fields[key]
        if dataclasses.is_dataclass(hints[key]):
            continue  # nested sections are handled by the caller
        received = value
        value = check_type(source, f"{path}.{key}", value, hints[key])
        meta = f.metadata
        if meta.get("choices") is not None and value not in meta["choices"]:
            fail(source, f"{path}.{key}", f"{received!r} is not one of {choices(meta['choices'])}")
        lo, xlo = meta.get("minimum"), meta.get("exclusive_minimum")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if lo is not None and value < lo:
                fail(source, f"{path}.{key}", f"{received!r} is below the minimum {lo}")
            if xlo is not None and value <= xlo:
                fail(source, f"{path}.{key}", f"{received!r} must be greater than {xlo}")
            xhi = meta.get("exclusive_maximum")
            if xhi is not None and value >= xhi:
                fail(source, f"{path}.{key}", f"{received!r} must be less than {xhi}")
        values[key] = value
    for name, f in fields.items():
        if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            if dataclasses.is_dataclass(hints[name]):
                continue
            fail(source, f"{path}.{name}", "is required")
    obj_fields = {**values, **fixed}
    return (obj_fields, extra) if extra_ok else obj_fields


def sections(cls, raw, source, path):
    """The nested dataclass fields of an input class (e.g. an image's `augment`), validated.

    Example:

    >>> from mmkeras.specs.inputs import ImageInputSpec
    >>> sections(ImageInputSpec, {"augment": {"flip": "horizontal"}}, "s.yaml", "inputs.picture")["augment"].flip
    'horizontal'
    """
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if f.name != "encoder" and dataclasses.is_dataclass(hints[f.name]) and f.name in raw:
            section = hints[f.name]
            out[f.name] = section(**build(section, raw[f.name], source, f"{path}.{f.name}"))
    return out


def named(raw, source, section):
    """(name, options, key path) of each entry of the `inputs` or `outputs` mapping, names checked.

    Example:

    >>> list(named({"picture": {"type": "image"}}, "s.yaml", "inputs"))
    [('picture', {'type': 'image'}, 'inputs.picture')]
    """
    what = section[:-1]
    if not isinstance(raw, dict) or not raw:
        fail(source, section, f"must be a non-empty mapping from {what} name to its options")
    for name, opts in raw.items():
        path = f"{section}.{name}"
        if not isinstance(name, str) or not name.isidentifier():
            fail(source, path, f"{name!r} is not a valid {what} name (letters, digits, underscores)")
        yield name, opts, path
