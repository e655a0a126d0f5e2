"""A small name -> object registry used for encoders, fusions and heads."""

import contextlib


class Registry:
    """Maps names to builders, filled with a decorator.

    Names are case-sensitive strings; registering a name twice is an error
    unless `override=True` is given, so a typo cannot silently replace a
    built-in. Looking up an unknown name raises a `ValueError` that names
    the kind, the name and the known names.

    Args:
        kind: what the registry holds, for messages (e.g. `"fusion"`).

    Example:

    >>> widgets = Registry("widget")
    >>> @widgets.register("plain")
    ... def plain():
    ...     return "plain widget"
    >>> widgets.get("plain")()
    'plain widget'
    >>> widgets.get("fancy")
    Traceback (most recent call last):
    ...
    ValueError: Unknown widget 'fancy'. Known: ['plain']
    """

    def __init__(self, kind):
        self.kind = kind
        self._items = {}

    def register(self, name, *, override=False):
        """Decorator that registers `obj` under `name` and returns it unchanged.

        Args:
            name: a non-empty string.
            override: replace an object already registered under `name`.

        Example:

        >>> shapes = Registry("shape")
        >>> square = shapes.register("square")(lambda side: side * side)
        >>> shapes.get("square")(3)
        9
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"A {self.kind} name must be a non-empty string, got {name!r}.")

        def decorator(obj):
            if name in self._items and not override and self._items[name] is not obj:
                raise ValueError(
                    f"A {self.kind} named {name!r} is already registered "
                    f"({self._items[name]!r}); pass override=True to replace it."
                )
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name):
        """The object registered under `name`; a `ValueError` names the kind, `name` and the known names.

        Example:

        >>> Registry("colour").get("red")
        Traceback (most recent call last):
        ...
        ValueError: Unknown colour 'red'. Known: []
        """
        if name not in self._items:
            raise ValueError(f"Unknown {self.kind} {name!r}. Known: {sorted(self._items)}")
        return self._items[name]

    @contextlib.contextmanager
    def temporarily(self, name, obj):
        """Registers `obj` under `name` for the body of a `with` block (tests, examples).

        On exit the registry is as before: a name that was free is removed
        again and a replaced object is restored.

        Args:
            name: the name to register.
            obj: what to register (replaces an existing entry while the block runs).

        Example:

        >>> shapes = Registry("shape")
        >>> with shapes.temporarily("circle", object()):
        ...     "circle" in shapes
        True
        >>> "circle" in shapes
        False
        """
        with self.restoring():
            yield self.register(name, override=True)(obj)

    @contextlib.contextmanager
    def restoring(self):
        """Puts the registry back as it was when the `with` block began: what the block registers goes again.

        Example:

        >>> shapes = Registry("shape")
        >>> with shapes.restoring():
        ...     _ = shapes.register("square")(object())
        >>> shapes.names()
        []
        """
        saved = dict(self._items)
        try:
            yield self
        finally:
            self._items.clear()
            self._items.update(saved)

    def names(self):
        """Sorted list of registered names.

        Example:

        >>> widgets = Registry("widget")
        >>> _ = widgets.register("b")(1), widgets.register("a")(2)
        >>> widgets.names()
        ['a', 'b']
        """
        return sorted(self._items)

    def __contains__(self, name):
        return name in self._items

    def __repr__(self):
        return f"Registry({self.kind!r}, {self.names()})"
