"""A small name -> object registry used for encoders, fusions and heads."""


class Registry:
    """Maps names to builders, filled with a decorator.

    Names are case-sensitive strings; registering a name twice is an error
    unless `override=True` is given, so a typo cannot silently replace a
    built-in.

    Example:

    >>> widgets = Registry("widget")
    >>> @widgets.register("plain")
    ... def plain():
    ...     return "plain widget"
    >>> widgets.get("plain")()
    'plain widget'
    """

    def __init__(self, kind):
        self.kind = kind
        self._items = {}

    def register(self, name, *, override=False):
        """Decorator that registers `obj` under `name` and returns it unchanged."""
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
        """Returns the object registered under `name` or raises a `KeyError` listing known names."""
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(
                f"Unknown {self.kind} {name!r}. Known: {sorted(self._items)}"
            ) from None

    def names(self):
        """Sorted list of registered names."""
        return sorted(self._items)

    def __contains__(self, name):
        return name in self._items

    def __repr__(self):
        return f"Registry({self.kind!r}, {self.names()})"
