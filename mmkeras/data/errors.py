"""The error raised for bad input data."""


class DataError(ValueError):
    """Bad data in a table or a file; the message names the row, column and file."""
