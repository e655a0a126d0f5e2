"""Writing files safely: JSON written whole, folders renamed into place, run directories claimed."""

import errno
import json
import os
import shutil
import tempfile


def write_json(path, payload):
    """Writes `payload` as indented JSON to `path` through a temporary file, so readers never see half a file.

    Args:
        path: the JSON file to write (its folder must exist).
        payload: anything `json.dump` accepts.

    Returns:
        `path`.

    Example:

    >>> path = write_json(os.path.join(tmp_dir, "metrics.json"), {"test": {"label": {"accuracy": 0.5}}})
    >>> json.load(open(path))["test"]["label"]["accuracy"]
    0.5
    """
    def dump(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1)

    return write_file(path, dump)


def write_file(path, write):
    """Writes one file with `write(tmp_path)` beside `path`, then renames it into place: never half a file.

    The temporary file keeps `path`'s extension (Keras' `model.save` wants
    `.keras`); an error removes it and leaves `path` as it was. A full disk
    is an `OSError(ENOSPC)` that says so and names `path`.

    Args:
        path: the file to write (its folder must exist).
        write: a function that writes the file it is given.

    Returns:
        `path`.

    Example:

    >>> path = write_file(os.path.join(tmp_dir, "history.csv"), lambda p: open(p, "w").write("epoch,loss"))
    >>> open(path).read()
    'epoch,loss'
    """
    folder, name = os.path.split(os.path.abspath(path))
    handle, tmp = tempfile.mkstemp(prefix=f".{name}.tmp-", suffix=os.path.splitext(name)[1], dir=folder)
    os.close(handle)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            raise OSError(errno.ENOSPC, f"No space left on the device while writing {path}; "
                                        "the file is as it was before") from e
        raise
    return path


def write_atomically(target, write, overwrite):
    """Fills a new folder with `write(tmp_folder)` and renames it to `target` when that succeeded.

    The folder is written beside `target` under a hidden temporary name; an
    error removes it and leaves `target` as it was. An existing `target` is
    only replaced when `overwrite` is true (and then only once the new one
    is complete).

    Args:
        target: the folder to create.
        write: a function that writes the folder's content into the folder it is given.
        overwrite: replace an existing `target`.

    Returns:
        The absolute path of `target`.

    Raises:
        FileExistsError: `target` exists and `overwrite` is false.

    Example:

    >>> def write(folder):
    ...     open(os.path.join(folder, "a.txt"), "w").write("hello")
    >>> path = write_atomically(os.path.join(tmp_dir, "out"), write, overwrite=False)
    >>> sorted(os.listdir(path))
    ['a.txt']
    """
    target = os.path.abspath(target)
    if os.path.exists(target) and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True (--overwrite) to replace it.")
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.tmp-", dir=parent)
    try:
        write(tmp)
        if os.path.exists(target):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old-", dir=parent)
            os.rename(target, os.path.join(old, "previous"))
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def claim_directory(path, overwrite):
    """Creates the run directory `path`; refuses one that exists and is not empty unless `overwrite`.

    Args:
        path: the run directory.
        overwrite: reuse a non-empty directory (files in it are replaced as they are written).

    Raises:
        FileExistsError: `path` is not empty and `overwrite` is false.

    Example:

    >>> claim_directory(os.path.join(tmp_dir, "run"), overwrite=False)
    >>> os.path.isdir(os.path.join(tmp_dir, "run"))
    True
    """
    if os.path.exists(path) and os.listdir(path) and not overwrite:
        raise FileExistsError(f"Run directory {path} exists and is not empty; choose another --out "
                              "or pass --overwrite.")
    os.makedirs(path, exist_ok=True)
