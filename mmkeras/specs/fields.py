"""`option`: a dataclass field with the validation metadata the spec loader reads.

* `choices`: the allowed values,
* `minimum` / `exclusive_minimum` / `exclusive_maximum`: numeric bounds,
* `doc`: a one-line description (used in error messages and the README's spec reference).
"""

import dataclasses


def option(default, *, choices=None, minimum=None, exclusive_minimum=None, exclusive_maximum=None, doc=""):
    """A dataclass field with validation metadata (`REQUIRED` as the default: the key must be given).

    Example:

    >>> field = option(3, minimum=1, doc="how many")
    >>> field.default, field.metadata["minimum"], field.metadata["doc"]
    (3, 1, 'how many')
    """
    meta = {"choices": choices, "minimum": minimum,
            "exclusive_minimum": exclusive_minimum, "exclusive_maximum": exclusive_maximum, "doc": doc}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


REQUIRED = dataclasses.MISSING
