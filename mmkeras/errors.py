"""The errors mmkeras raises for what a user wrote or asked: a bad spec, bad data, an export a format cannot hold.

All are `ValueError`s, so code that catches `ValueError` keeps working; the
command line prints them as one line and exits with status 2.
"""


class SpecError(ValueError):
    """A spec that does not validate; the message names file, key path and value.

    Example:

    >>> raise SpecError("demo.yaml: training.epochs: expected an integer, got 'ten'")
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: demo.yaml: training.epochs: expected an integer, got 'ten'
    """


class DataError(ValueError):
    """Bad data in a table or a file; the message names the row, column and file.

    Example:

    >>> raise DataError("Row 5 of train split, column 'image_path': file not found: pics/5.png")
    Traceback (most recent call last):
    ...
    mmkeras.errors.DataError: Row 5 of train split, column 'image_path': file not found: pics/5.png
    """


class ExportError(ValueError):
    """A model an export format cannot hold (an op it lacks), or an export that differs from the Keras model.

    Example:

    >>> raise ExportError("LiteRT has no built-in op for Igamma in model 'odd'")
    Traceback (most recent call last):
    ...
    mmkeras.errors.ExportError: LiteRT has no built-in op for Igamma in model 'odd'
    """
