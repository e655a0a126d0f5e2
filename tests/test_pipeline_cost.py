"""Per-core pipeline work of issue 14: cheaper per-example steps give the same tensors bit for bit."""

import numpy as np
import pytest
import tensorflow as tf

from mmkeras.data.image import decode_image, resize_image


@pytest.mark.parametrize("mode", ["stretch", "crop", "pad"])
def test_an_image_at_the_output_size_skips_the_resize_with_the_same_values(mode):
    rng = np.random.default_rng(0)
    for shape in ([32, 32, 1], [28, 28, 3], [16, 24, 4]):
        image = tf.constant(rng.random(shape, dtype=np.float32))
        resized = tf.image.resize(image, shape[:2], antialias=True)  # what every image went through before
        np.testing.assert_array_equal(resize_image(image, *shape[:2], mode).numpy(), resized.numpy())
    other = tf.constant(rng.random([20, 30, 3], dtype=np.float32))  # another size still resizes
    assert resize_image(other, 10, 15, mode).shape == (10, 15, 3)


def test_decoded_files_at_the_output_size_are_unchanged_bit_for_bit():
    rng = np.random.default_rng(1)
    for channels, file_channels in ((1, 1), (3, 3), (3, 4), (1, 3)):
        pixels = rng.integers(0, 256, [32, 32, file_channels]).astype(np.uint8)
        png = tf.io.encode_png(pixels)
        ours = decode_image(png, height=32, width=32, channels=channels).numpy()
        image = tf.io.decode_image(png, expand_animations=False, dtype=tf.float32)
        rgba = tf.concat([image, tf.ones_like(image[..., :1])], -1) if file_channels in (1, 3) else image
        if file_channels == 1:
            rgba = tf.concat([image, image, image, tf.ones_like(image)], -1)
        color, alpha = rgba[..., :3], rgba[..., 3:4]
        flat = color * alpha + (1.0 - alpha)
        if channels == 1:
            flat = tf.image.rgb_to_grayscale(flat) / 0.9999
        before = tf.clip_by_value(tf.image.resize(flat, [32, 32], antialias=True), 0.0, 1.0).numpy()
        np.testing.assert_array_equal(ours, before)

