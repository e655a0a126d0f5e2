"""Image inputs: decode PNG/JPEG/GIF/BMP bytes in-graph to a fixed-size float tensor.

A table cell is a file path, or the encoded image itself (a `bytes` cell, or a
`{"bytes": ..., "path": ...}` struct as Hugging Face datasets write to
Parquet). Per example the bytes are decoded to float32 in [0, 1] and resized
(`stretch`, `crop` or `pad`); per batch, in the training pipeline only,
random augmentation (Keras preprocessing layers) may follow.
"""

import os
import zlib

import keras
import numpy as np
import tensorflow as tf

from mmkeras.data.feature import Feature
from mmkeras.data.paths import absolute_path, row_error

# Leading bytes of the formats `tf.io.decode_image` reads.
_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")
RESIZE_MODES = ("stretch", "crop", "pad")


def is_image_bytes(data):
    """Scalar bool tensor: do the bytes start like a PNG, JPEG, GIF or BMP file?

    Example:

    >>> bool(is_image_bytes(tf.io.encode_png(tf.zeros([2, 2, 3], "uint8")))), bool(is_image_bytes(b"hello"))
    (True, False)
    """
    head = tf.strings.substr(data, 0, 4)
    checks = [tf.strings.substr(head, 0, len(m)) == m for m in _MAGIC]
    return tf.reduce_any(tf.stack(checks))


def _to_rgba(image):
    """[h, w, 1|2|3|4] float in [0, 1] -> [h, w, 4] (opaque where the file has no alpha)."""
    channels = tf.shape(image)[-1]

    def gray():
        return tf.concat([image, image, image, tf.ones_like(image)], -1)

    def gray_alpha():
        g, a = image[..., :1], image[..., 1:2]
        return tf.concat([g, g, g, a], -1)

    def rgb():
        return tf.concat([image[..., :3], tf.ones_like(image[..., :1])], -1)

    def rgba():
        return image[..., :4]

    return tf.switch_case(tf.clip_by_value(channels, 1, 4) - 1, [gray, gray_alpha, rgb, rgba])


def resize_image(image, height, width, mode="stretch", pad_value=0.0):
    """Resizes one `[h, w, c]` image to `[height, width, c]` (bilinear, antialiased).

    Args:
        image: a float `[h, w, c]` tensor.
        height, width: the output size.
        mode: `stretch` (the whole image, aspect ratio not kept), `crop` (the
            largest centered region with the output's aspect ratio, then
            resized) or `pad` (letterbox: borders of `pad_value` added on
            both sides to reach the output's aspect ratio, then resized).
        pad_value: value of the added border (`pad` only).

    Returns:
        A `[height, width, c]` tensor.

    Example:

    >>> wide = tf.ones([10, 20, 3])
    >>> resize_image(wide, 10, 10, "pad")[:, :, 0].numpy()[[0, 5], 5]   # border row, image row
    array([0., 1.], dtype=float32)
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize mode {mode!r} is not one of {', '.join(RESIZE_MODES)}")
    if mode != "stretch":
        shape = tf.shape(image)
        h, w = shape[0], shape[1]
        # The crop (or padded) size with the output's aspect ratio, rounded to whole pixels.
        h_for_w = (w * height + width // 2) // width
        w_for_h = (h * width + height // 2) // height
        if mode == "crop":
            ch, cw = tf.maximum(tf.minimum(h, h_for_w), 1), tf.maximum(tf.minimum(w, w_for_h), 1)
            image = tf.image.crop_to_bounding_box(image, (h - ch) // 2, (w - cw) // 2, ch, cw)
        else:
            ph, pw = tf.maximum(h, h_for_w), tf.maximum(w, w_for_h)
            top, left = (ph - h) // 2, (pw - w) // 2
            image = tf.pad(image, [[top, ph - h - top], [left, pw - w - left], [0, 0]],
                           constant_values=float(pad_value))
    # At the output size already, the antialiased resize gives every pixel weight 1 and its neighbours 0, i.e.
    # the same values bit for bit, at about half of a small image's decode time: skip it then.
    shape = tf.shape(image)
    same = tf.logical_and(tf.equal(shape[0], height), tf.equal(shape[1], width))
    return tf.cond(same, lambda: tf.cast(image, tf.float32),
                   lambda: tf.image.resize(image, [height, width], antialias=True))


def decode_image(data, *, height, width, channels, context="", resize="stretch", pad_value=0.0):
    """Decodes one encoded image into `[height, width, channels]` float32 in [0, 1].

    PNG, JPEG, BMP and GIF (first frame) are decoded with TensorFlow ops, so
    this runs inside `tf.data` and inside an exported SavedModel. Grayscale,
    RGB and RGBA files are all accepted: for 1 or 3 channels transparent
    pixels are flattened onto white, for 4 the alpha channel is kept (files
    without alpha get an opaque one). The image is then resized to the
    requested size (`resize_image`).

    Args:
        data: scalar `tf.string` with the file's bytes.
        height, width: output size in pixels.
        channels: 1 (grayscale), 3 (RGB) or 4 (RGBA).
        context: scalar string naming the row/column/file, shown in errors.
        resize: `stretch`, `crop` or `pad` (see `resize_image`).
        pad_value: border value for `resize="pad"`.

    Returns:
        A float32 tensor of shape `[height, width, channels]`.

    Example:

    >>> png = tf.io.encode_png(tf.zeros([4, 4, 3], tf.uint8))
    >>> decode_image(png, height=8, width=8, channels=1).shape
    TensorShape([8, 8, 1])
    """
    check = tf.debugging.Assert(
        is_image_bytes(data),
        ["Not a PNG, JPEG, GIF or BMP image (corrupt or wrong file type):", context],
        name="check_image_bytes")
    with tf.control_dependencies([check]):  # tf.data graphs do not order ops by themselves
        image = tf.io.decode_image(data, expand_animations=False, dtype=tf.float32)
    return prepare_image(image, height=height, width=width, channels=channels, resize=resize, pad_value=pad_value)


def pixels_to_float(pixels, encoded=None):
    """Decoded integer pixels -> float32 in [0, 1], rounded as `tf.io.decode_image(..., dtype=tf.float32)` rounds.

    TensorFlow turns a PNG into floats through 16 bits (`value * 257 /
    65535`) and other formats as `value / 255`; these differ in the last
    bit. Given the file's bytes (`encoded`), uint8 pixels are scaled the way
    its format is, so decoded tensors (TFDS images) give exactly the floats
    of their files. Otherwise, and for other dtypes,
    `tf.image.convert_image_dtype`.

    Args:
        pixels: a decoded image tensor (uint8, uint16 or float).
        encoded: the scalar string it was decoded from, or None.

    Example:

    >>> png = tf.io.encode_png(tf.constant([[[1], [128], [255]]], tf.uint8))
    >>> bool(tf.reduce_all(pixels_to_float(tf.io.decode_png(png), png) == tf.io.decode_image(png, dtype=tf.float32)))
    True
    """
    pixels = tf.convert_to_tensor(pixels)
    if pixels.dtype != tf.uint8 or encoded is None:
        return tf.image.convert_image_dtype(pixels, tf.float32)
    values = tf.cast(pixels, tf.float32)
    is_png = tf.equal(tf.strings.substr(encoded, 0, 4), _MAGIC[0])
    return tf.where(is_png, values * 257.0 * (1.0 / 65535), values * (1.0 / 255))


def prepare_image(image, *, height, width, channels, resize="stretch", pad_value=0.0):
    """A decoded `[h, w, 1|2|3|4]` image -> `[height, width, channels]` float32 in [0, 1], as `decode_image` does.

    `decode_image` runs it on the decoded file; decoded image tensors (a
    TFDS `Image`) go through it directly, so both give the same values
    (bit for bit when their integer pixels are first scaled by
    `pixels_to_float` with the file's bytes). Integer pixels are scaled to
    [0, 1]; then alpha is flattened onto white (1 or 3 channels) or kept
    (4), and the image resized (`resize_image`) and clipped.

    Args:
        image: a `[h, w, c]` tensor, uint8, uint16 or float in [0, 1].
        height, width, channels, resize, pad_value: as for `decode_image`.

    Returns:
        A float32 tensor of shape `[height, width, channels]`.

    Example:

    >>> png = tf.io.encode_png(tf.random.uniform([5, 7, 4], 0, 255, tf.int32, seed=1).numpy().astype("uint8"))
    >>> pixels = pixels_to_float(tf.io.decode_png(png, channels=4), png)
    >>> from_tensor = prepare_image(pixels, height=8, width=8, channels=3)
    >>> bool(tf.reduce_all(from_tensor == decode_image(png, height=8, width=8, channels=3)))
    True
    """
    image = tf.image.convert_image_dtype(image, tf.float32)
    image = _to_rgba(image)
    if channels != 4:
        color, alpha = image[..., :3], image[..., 3:4]
        image = color * alpha + (1.0 - alpha)
    if channels == 1:
        # ITU-R 601 luma weights sum to 0.9999: rescale so white stays exactly 1.
        image = tf.image.rgb_to_grayscale(image) / 0.9999
    image = resize_image(image, height, width, resize, pad_value)
    image = tf.clip_by_value(image, 0.0, 1.0)
    image.set_shape([height, width, channels])
    return image


def augmentation_layers(augment, seed=0):
    """The Keras random layers for an `ImageAugmentSpec`, in the order they run.

    Flip, rotation, zoom and translation move pixels (bilinear, borders
    reflected); contrast scales each image's deviation from its mean
    (colour channels only, clipped to [0, 1]). Each draws new values per
    image and per batch, from its own seed derived from `seed`, so a run
    repeats its augmentation.

    Returns:
        A list of Keras layers (empty when nothing is switched on).

    Example:

    >>> spec_of = mmkeras.specs.schema.ImageAugmentSpec(flip="horizontal", zoom=0.1)
    >>> [type(layer).__name__ for layer in augmentation_layers(spec_of)]
    ['RandomFlip', 'RandomZoom']
    """
    layers = []

    def kw(i):
        return {"dtype": "float32", "seed": seed + i}

    if augment.flip != "none":
        layers.append(keras.layers.RandomFlip(augment.flip, name="flip", **kw(1)))
    if augment.rotation:
        layers.append(keras.layers.RandomRotation(augment.rotation, name="rotation", **kw(2)))
    if augment.zoom:
        layers.append(keras.layers.RandomZoom(augment.zoom, name="zoom", **kw(3)))
    if augment.translation:
        layers.append(keras.layers.RandomTranslation(augment.translation, augment.translation,
                                                     name="translation", **kw(4)))
    if augment.contrast:
        layers.append(keras.layers.RandomContrast(augment.contrast, value_range=(0.0, 1.0),
                                                  name="contrast", **kw(5)))
    return layers


class ImageFeature(Feature):
    """Preprocessing of an image input: file (or cell) bytes -> `[h, w, c]` float32 in [0, 1].

    Nothing to adapt. `transform(batch, training=True)` applies the spec's
    `augment` (training pipeline only); otherwise it returns the batch as is,
    so evaluation and the export never see augmentation.

    Example:

    >>> feature = ImageFeature(spec.inputs["picture"])
    >>> path = os.path.join(data_dir, splits["train"]["image_path"].iloc[0])
    >>> feature.decode(tf.io.read_file(path)).shape
    TensorShape([32, 32, 3])
    """

    raw_dtype = tf.string
    is_file = True

    def __new__(cls, spec=None):  # spec=None: copy and pickle make instances without arguments
        # A kerashub encoder brings its own image converter: see `mmkeras.data.image_kerashub`.
        if cls is ImageFeature and spec is not None and spec.encoder.type == "kerashub":
            from mmkeras.data.image_kerashub import KerasHubImageFeature  # deferred: it subclasses this class
            return super().__new__(KerasHubImageFeature)  # Python then runs its __init__
        return super().__new__(cls)

    def __init__(self, spec):
        self.spec = spec
        self.shape = (spec.height, spec.width, spec.channels)
        self.decoded_shape = self.shape
        self.dtype = "float32"
        # Seeded by the input's name: the same stream in every run (the global seed is not set yet here).
        self.augmenters = augmentation_layers(spec.augment, seed=zlib.crc32(spec.name.encode()) % 2**30)
        self.transform_is_random = bool(self.augmenters)

    def resolve(self, column, *, root, table=""):
        """Paths -> absolute paths (checked to exist); cells holding image bytes are kept as bytes."""
        cells = list(column)
        if not any(isinstance(c, (bytes, bytearray, dict)) for c in cells):
            return super().resolve(column, root=root, table=table)
        out = np.empty(len(cells), dtype=object)
        for row, cell in enumerate(cells):
            if isinstance(cell, dict):  # {"bytes": ..., "path": ...} (Hugging Face image struct)
                cell = cell.get("bytes") if cell.get("bytes") is not None else cell.get("path")
            if isinstance(cell, (bytes, bytearray)):
                if not bytes(cell[:4]).startswith(_MAGIC):
                    raise row_error(row, table, self.spec.column,
                                    f"{len(cell)} bytes that are not a PNG, JPEG, GIF or BMP image")
                out[row] = bytes(cell)
                continue
            path = "" if cell is None or (isinstance(cell, float) and np.isnan(cell)) else str(cell)
            if path.strip() == "":
                out[row] = ""  # a missing input
                continue
            out[row] = absolute_path(path, root)
            if not os.path.isfile(out[row]):
                raise row_error(row, table, self.spec.column, f"file not found: {out[row]}")
        return out

    def describe(self, value):
        if isinstance(value, bytes):
            return f"{len(value)} bytes of image data in the table"
        return f"file {value}"

    def read(self, path):
        """An absolute path -> the file's bytes; image bytes from the table pass through."""
        return tf.cond(tf.logical_or(is_image_bytes(path), tf.equal(path, "")),
                       lambda: path, lambda: tf.io.read_file(path))  # "" (missing) stays ""

    def decode(self, data, context="", training=False):
        s = self.spec
        return decode_image(data, height=s.height, width=s.width, channels=s.channels, context=context,
                            resize=s.resize, pad_value=s.pad_value)

    def decode_tensor(self, image, context="", training=False, *, encoded=None):
        """A decoded image tensor (e.g. a TFDS `Image`, uint8 `[h, w, c]`) -> what `decode` gives for its file.

        Args:
            image: the decoded pixels.
            context: names the example in errors.
            training: unused (images decode the same way in training).
            encoded: the bytes they were decoded from, for bit-exact rounding (`pixels_to_float`).

        Example:

        >>> feature = ImageFeature(spec.inputs["picture"])
        >>> feature.decode_tensor(tf.zeros([10, 20, 3], tf.uint8)).shape
        TensorShape([32, 32, 3])
        """
        s = self.spec
        return prepare_image(pixels_to_float(image, encoded), height=s.height, width=s.width, channels=s.channels,
                             resize=s.resize, pad_value=s.pad_value)

    def transform(self, batch, training=False):
        if not (training and self.augmenters):
            return batch
        images = batch
        alpha = None
        for layer in self.augmenters:
            if layer.name == "contrast" and self.spec.channels == 4:
                images, alpha = images[..., :3], images[..., 3:]
            images = layer(images, training=True)
        if alpha is not None:
            images = tf.concat([images, alpha], -1)
        return tf.ensure_shape(images, batch.shape)

    def tracked_layers(self):
        return []  # augmentation never runs in the export

    def get_state(self):
        return {}

    def set_state(self, state):
        pass
