"""Video inputs: a folder of frame images (or a list of frame files) -> `[frames, h, w, c]` float32.

In a table a video cell is a folder holding the frames as image files (taken
in natural name order: `frame_2.png` before `frame_10.png`), or a list of
frame files: a list cell (JSONL, Parquet) or a JSON list in a string
(`'["a/1.png", "a/2.png"]'`). Relative paths are taken from the data root.

The raw value of one clip, in the pipeline and at serving time, is ONE
`tf.string`: `tf.io.serialize_tensor` of the `[M]` encoded frame files in
order (`encode_frames`). `decode` parses it, samples `frames` of the `M`
frames uniformly and decodes them with `mmkeras.data.image.decode_image`.
"""

import json
import os
import re

import numpy as np
import pandas as pd
import tensorflow as tf

from mmkeras.data.feature import Feature
from mmkeras.data.image import ImageFeature, decode_image, pixels_to_float, prepare_image
from mmkeras.data.paths import absolute_path, row_error

FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
# Joins a clip's frame paths in the pipeline's path column: no file path can hold a NUL byte.
_SEPARATOR = "\x00"


def _natural_key(name):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_frames(folder):
    """The image files in `folder` (by extension), in natural name order.

    Example:

    >>> os.makedirs(os.path.join(tmp_dir, "jump"))
    >>> for i in (1, 2, 10):
    ...     tf.io.write_file(os.path.join(tmp_dir, "jump", f"frame_{i}.png"), tf.io.encode_png(tf.zeros([4, 4, 3], "uint8")))
    >>> [os.path.basename(path) for path in list_frames(os.path.join(tmp_dir, "jump"))]
    ['frame_1.png', 'frame_2.png', 'frame_10.png']
    """
    names = [n for n in os.listdir(folder)
             if n.lower().endswith(FRAME_EXTENSIONS) and os.path.isfile(os.path.join(folder, n))]
    return [os.path.join(folder, n) for n in sorted(names, key=_natural_key)]


def _frame_paths(cell, root, error):
    """One table cell -> absolute frame paths; `error(message)` builds the DataError."""
    if isinstance(cell, str) and cell.strip().startswith("["):
        try:
            cell = json.loads(cell)
        except ValueError:
            raise error(f"{cell[:80]!r} is not a JSON list of frame paths") from None
    if isinstance(cell, (list, tuple, np.ndarray)):
        paths = [absolute_path(str(p), root) for p in cell]
        if not paths:
            raise error("empty list of frames")
        for path in paths:
            if not os.path.isfile(path):
                raise error(f"frame file not found: {path}")
        return paths
    if cell is None or (isinstance(cell, float) and np.isnan(cell)) or str(cell).strip() == "":
        raise error("empty video path")
    folder = absolute_path(str(cell).strip(), root)
    if os.path.isfile(folder):
        raise error(f"{folder} is a file; a video is a folder of frame images or a list of frame files")
    if not os.path.isdir(folder):
        raise error(f"folder not found: {folder}")
    paths = list_frames(folder)
    if not paths:
        raise error(f"no frame images ({', '.join(FRAME_EXTENSIONS)}) in folder {folder}")
    return paths


def sample_indices(count, frames, training=False):
    """Indices of `frames` frames sampled uniformly from a clip of `count` frames.

    The clip is cut into `frames` equal segments and one frame is taken per
    segment, at the same position in each: the middle in evaluation, a
    random offset (one per clip) in training. A clip shorter than `frames`
    gives all its frames, then the last one repeated.

    Args:
        count: scalar int tensor, the number of frames (> 0).
        frames: Python int, how many to take.
        training: draw the random offset.

    Returns:
        `[frames]` int32 indices.

    Example:

    >>> sample_indices(tf.constant(10), 4).numpy()
    array([1, 3, 6, 8], dtype=int32)
    >>> sample_indices(tf.constant(2), 4).numpy()
    array([0, 1, 1, 1], dtype=int32)
    """
    count = tf.cast(count, tf.int32)
    stride = tf.cast(count, tf.float32) / frames
    offset = tf.random.uniform([], 0.0, stride) if training else stride / 2
    spread = tf.cast(tf.floor(offset + stride * tf.range(frames, dtype=tf.float32)), tf.int32)
    spread = tf.minimum(spread, count - 1)
    padded = tf.minimum(tf.range(frames, dtype=tf.int32), count - 1)
    return tf.where(count >= frames, spread, padded)


def resolve_clips(column, *, root, table="", column_name=""):
    """A table's video column -> one string per clip: its absolute frame paths joined by NUL.

    Every clip is listed and every frame file checked to exist.

    Raises:
        DataError: naming row, column and path (empty cell, missing folder or
            frame, a folder without images, a list that is not JSON).

    Example:

    >>> os.makedirs(os.path.join(tmp_dir, "jump"))
    >>> for i in (1, 2, 10):
    ...     tf.io.write_file(os.path.join(tmp_dir, "jump", f"frame_{i}.png"), tf.io.encode_png(tf.zeros([4, 4, 3], "uint8")))
    >>> [len(clip.split("\\x00")) for clip in resolve_clips(["jump", ""], root=tmp_dir)]   # a clip, a missing one
    [3, 1]
    """
    out = []
    for row, cell in enumerate(pd.Series(column).tolist()):
        def error(message, row=row):
            return row_error(row, table, column_name, message)
        if cell is None or (isinstance(cell, float) and np.isnan(cell)) or \
                (isinstance(cell, str) and cell.strip() == ""):
            out.append("")  # a missing input
            continue
        out.append(_SEPARATOR.join(_frame_paths(cell, root, error)))
    return np.array(out, dtype=object)


def read_clip(paths):
    """A scalar string of NUL-joined frame paths (`resolve_clips`) -> the clip's serving string.

    Example:

    >>> paths = [os.path.join(data_dir, p) for p in splits["train"]["image_path"][:2]]   # any images as frames
    >>> tf.io.parse_tensor(read_clip("\\x00".join(paths)), tf.string).shape
    TensorShape([2])
    """
    def read(paths):
        paths = tf.strings.split(paths, _SEPARATOR)
        return tf.io.serialize_tensor(tf.map_fn(tf.io.read_file, paths, fn_output_signature=tf.string))

    paths = tf.convert_to_tensor(paths, tf.string)
    return tf.cond(tf.strings.length(paths) > 0, lambda: read(paths), lambda: tf.constant(""))  # "": missing


def read_clips(column, *, root, table="", column_name=""):
    """A table's video column -> numpy object array of serving strings (see `encode_frames`).

    Example:

    >>> os.makedirs(os.path.join(tmp_dir, "jump"))
    >>> for i in (1, 2, 10):
    ...     tf.io.write_file(os.path.join(tmp_dir, "jump", f"frame_{i}.png"), tf.io.encode_png(tf.zeros([4, 4, 3], "uint8")))
    >>> clips = read_clips(pd.Series(["jump"]), root=tmp_dir, column_name="frames")
    >>> tf.io.parse_tensor(clips[0], tf.string).shape   # the clip's three encoded frames
    TensorShape([3])
    """
    return np.array([read_clip(v).numpy() for v in resolve_clips(column, root=root, table=table,
                                                                 column_name=column_name)], dtype=object)


def encode_frames(frames):
    """Encoded frame files (bytes, in order) -> the one serving string of a clip.

    Example:

    >>> png = tf.io.encode_png(tf.zeros([4, 4, 3], "uint8")).numpy()
    >>> clip = encode_frames([png, png])   # what an exported model's video input takes, one per clip
    >>> tf.io.parse_tensor(clip, tf.string).shape
    TensorShape([2])
    """
    return tf.io.serialize_tensor(tf.constant(list(frames), tf.string)).numpy()


class VideoFeature(Feature):
    """Preprocessing of a video input: frame files -> `[frames, height, width, channels]` float32.

    `resolve` lists and checks every clip's frame files before training
    (a `DataError` names row, column and path); `read` reads all of a
    clip's frame files into one serialized string tensor (see the module
    docstring); `decode` samples `frames` of them (`sample_indices`: random
    offset in training only) and decodes each one like an image input
    (values in [0, 1], alpha flattened onto white, resized). Nothing to adapt.

    Example:

    >>> clip = mmkeras.specs.schema.VideoInputSpec(name="clip", type="video", column="c", frames=4, height=8, width=8,
    ...                                         encoder=mmkeras.specs.schema.EncoderSpec(type="frames_cnn"))
    >>> paths = "\\x00".join(os.path.join(data_dir, p) for p in splits["train"]["image_path"][:2])
    >>> tuple(VideoFeature(clip).decode(VideoFeature(clip).read(paths)).shape)   # 2 frames sampled up to 4
    (4, 8, 8, 3)
    """

    raw_dtype = tf.string
    is_file = True
    decode_is_random = True

    def __init__(self, spec):
        self.spec = spec
        self.shape = (spec.frames, spec.height, spec.width, spec.channels)
        self.decoded_shape = self.shape
        self.dtype = "float32"

    def frame_feature(self, encoder_type, options=None):
        """The `ImageFeature` of one frame (its spec: `spec.frame_spec`), for the frame encoder.

        Example:

        >>> clip = mmkeras.load_spec({"spec_version": 1, "name": "v",
        ...     "inputs": {"clip": {"type": "video", "column": "frames", "height": 8, "width": 8}},
        ...     "outputs": {"y": {"type": "binary", "column": "y"}}}).inputs["clip"]
        >>> tuple(VideoFeature(clip).frame_feature("cnn").shape)
        (8, 8, 3)
        """
        return ImageFeature(self.spec.frame_spec(encoder_type, options))

    def resolve(self, column, *, root, table=""):
        """Column -> one string per clip: its absolute frame paths joined by NUL (`resolve_clips`)."""
        return resolve_clips(column, root=root, table=table, column_name=self.spec.column)

    def describe(self, value):
        paths = str(value).split(_SEPARATOR)
        folders = {os.path.dirname(p) for p in paths}
        if len(folders) == 1:
            return f"folder {folders.pop()} ({len(paths)} frames)"
        return f"frames {paths[0]} ... {paths[-1]} ({len(paths)} files)"

    def read(self, path):
        return read_clip(path)

    def decode(self, data, context="", training=False):
        s = self.spec
        frames = tf.reshape(tf.io.parse_tensor(data, tf.string), [-1])
        return self._sampled(frames, context, training, lambda frame, where: decode_image(
            frame, height=s.height, width=s.width, channels=s.channels, context=where))

    def decode_tensor(self, frames, context="", training=False, *, decode_frame=None):
        """A clip's frames as a tensor -> what `decode` gives for the same frame files.

        Args:
            frames: `[M, h, w, c]` decoded frames, or `[M]` encoded frames
                with `decode_frame` (a TFDS `Video` read with
                `SkipDecoding`: only the sampled frames are decoded).
            context: names the example in errors.
            training: random frame offset.
            decode_frame: one encoded frame -> its `[h, w, c]` pixels (then
                scaled as its file would be, `pixels_to_float`).

        Example:

        >>> clip = mmkeras.load_spec({"spec_version": 1, "name": "v",
        ...     "inputs": {"clip": {"type": "video", "column": "frames", "height": 8, "width": 8, "frames": 2}},
        ...     "outputs": {"y": {"type": "binary", "column": "y"}}}).inputs["clip"]
        >>> VideoFeature(clip).decode_tensor(tf.zeros([5, 4, 4, 3], tf.uint8)).shape
        TensorShape([2, 8, 8, 3])
        """
        s = self.spec

        def prepare(frame, where):
            pixels = frame if decode_frame is None else pixels_to_float(decode_frame(frame), frame)
            return prepare_image(pixels, height=s.height, width=s.width, channels=s.channels)

        return self._sampled(frames, context, training, prepare)

    def _sampled(self, frames, context, training, decode):
        """`spec.frames` of the `[M, ...]` frames (`sample_indices`), each through `decode(frame, context)`, stacked."""
        s = self.spec
        count = tf.shape(frames)[0]
        check = tf.debugging.Assert(count > 0, ["A video has no frames:", context], name="check_frames")
        with tf.control_dependencies([check]):
            index = sample_indices(count, s.frames, training)
        images = []
        for i in range(s.frames):
            where = tf.strings.join([context, ", frame ", tf.strings.as_string(index[i])])
            images.append(decode(frames[index[i]], where))
        return tf.stack(images)

    def transform(self, batch, training=False):
        return batch

