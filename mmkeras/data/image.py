"""Image inputs: decode PNG/JPEG/GIF/BMP bytes in-graph to a fixed-size float tensor."""

import tensorflow as tf

from mmkeras.data.feature import Feature

# Leading bytes of the formats `tf.io.decode_image` reads.
_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")


def is_image_bytes(data):
    """Scalar bool tensor: do the bytes start like a PNG, JPEG, GIF or BMP file?"""
    head = tf.strings.substr(data, 0, 4)
    checks = [tf.strings.substr(head, 0, len(m)) == m for m in _MAGIC]
    return tf.reduce_any(tf.stack(checks))


def _to_rgb_on_white(image):
    """[h, w, 1|2|3|4] float in [0, 1] -> [h, w, 3], alpha flattened onto white."""
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

    image = tf.switch_case(tf.clip_by_value(channels, 1, 4) - 1, [gray, gray_alpha, rgb, rgba])
    color, alpha = image[..., :3], image[..., 3:4]
    return color * alpha + (1.0 - alpha)


def decode_image(data, *, height, width, channels, context=""):
    """Decodes one encoded image into `[height, width, channels]` float32 in [0, 1].

    PNG, JPEG, BMP and GIF (first frame) are decoded with TensorFlow ops, so
    this runs inside `tf.data` and inside an exported SavedModel. Transparent
    pixels are flattened onto white; images are resized (bilinear, with
    antialiasing) to the requested size.

    Args:
        data: scalar `tf.string` with the file's bytes.
        height, width: output size in pixels.
        channels: 1 (grayscale) or 3 (RGB).
        context: scalar string naming the row/column/file, shown in errors.

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
    image = _to_rgb_on_white(image)
    if channels == 1:
        # ITU-R 601 luma weights sum to 0.9999: rescale so white stays exactly 1.
        image = tf.image.rgb_to_grayscale(image) / 0.9999
    image = tf.image.resize(image, [height, width], antialias=True)
    image = tf.clip_by_value(image, 0.0, 1.0)
    image.set_shape([height, width, channels])
    return image


class ImageFeature(Feature):
    """Preprocessing of an image input: file bytes -> `[h, w, c]` float32.

    Nothing to adapt: pixel values are scaled to [0, 1].
    """

    raw_dtype = tf.string
    is_file = True

    def __init__(self, spec):
        self.spec = spec
        self.shape = (spec.height, spec.width, spec.channels)
        self.decoded_shape = self.shape
        self.dtype = "float32"

    def adapt(self, column_values, dataset=None):
        return self

    def decode(self, data, context="", training=False):
        s = self.spec
        return decode_image(data, height=s.height, width=s.width, channels=s.channels, context=context)

    def transform(self, batch, training=False):
        return batch

    def get_state(self):
        return {}

    def set_state(self, state):
        pass
