"""The errors mmkeras raises for what a user wrote or asked: a bad spec, bad data, an export a format cannot hold.

All are `ValueError`s, so code that catches `ValueError` keeps working; the
command line prints them as one line and exits with status 2.
"""

import re


class SpecError(ValueError):
    """A spec that does not validate; the message names file, key path and value.

    Example:

    >>> raise SpecError("demo.yaml: training.epochs: expected an integer, got 'ten'")
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: demo.yaml: training.epochs: expected an integer, got 'ten'
    """


_TF_NOISE = (re.compile(r"\{\{function_node [^}]*\}\}"), re.compile(r"\s*\[\[[^\]]*\]\]"),
             re.compile(r"\s*\[Op:[^\]]*\](\s*name:\s*\S*)?"), re.compile(r"\{\{node [^}]*\}\}"))
_TF_LINES = ("Detected at node", "File \"", "Traceback", "<stack traces unavailable>",
             "Stack trace for op definition", "Detected unsupported operations")


def clean_tf_text(text):
    """`text` without TensorFlow's node names (`{{function_node ...}}`), `[[...]]` blocks and stack frames.

    Example:

    >>> clean_tf_text("{{function_node __wrapped__DecodeImage_device_/job:localhost}} Unknown image file format."
    ...               " One of JPEG, PNG, GIF, BMP required. [Op:DecodeImage] name: ")
    'Unknown image file format. One of JPEG, PNG, GIF, BMP required.'
    >>> clean_tf_text('Graph execution error:\\n\\nDetected at node x defined at (most recent call last):\\n'
    ...               '  File "a.py", line 1, in f\\nbad PNG\\n\\t [[{{node DecodePng}}]]')
    'bad PNG'
    """
    text = str(text)
    for pattern in _TF_NOISE:
        text = pattern.sub("", text)
    lines = [re.sub(r"(?<=\S) {2,}", " ", re.sub(r"^\s*Graph execution error:?", "", line)).rstrip()
             for line in text.splitlines()]
    kept = [line for line in lines if line.strip() and not line.strip().startswith(_TF_LINES)]
    return "\n".join(kept).strip()


class DataError(ValueError):
    """Bad data in a table or a file; the message names the row, column and file.

    TensorFlow's node names, `[[...]]` blocks and stack frames are taken out
    of the message (`clean_tf_text`); the raw text, when given as `debug`,
    stays in `.debug` (`mmkeras --debug` prints it).

    Example:

    >>> raise DataError("Row 5 of train split, column 'image_path': file not found: pics/5.png")
    Traceback (most recent call last):
    ...
    mmkeras.errors.DataError: Row 5 of train split, column 'image_path': file not found: pics/5.png
    >>> error = DataError("Row 2 of t, column 'a', file x.png: {{function_node __wrapped__X}} bad [[{{node y}}]]")
    >>> str(error), error.debug
    ("Row 2 of t, column 'a', file x.png: bad", None)
    """

    def __init__(self, message="", debug=None):
        super().__init__(clean_tf_text(message))
        self.debug = debug


class ExportError(ValueError):
    """A model an export format cannot hold (an op it lacks), or an export that differs from the Keras model.

    Example:

    >>> raise ExportError("LiteRT has no built-in op for Igamma in model 'odd'")
    Traceback (most recent call last):
    ...
    mmkeras.errors.ExportError: LiteRT has no built-in op for Igamma in model 'odd'
    """
