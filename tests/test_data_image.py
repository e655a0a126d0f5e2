"""Image preprocessing: PNG/JPEG/BMP/GIF bytes -> fixed-size float32 in [0, 1]."""

import struct

import numpy as np
import pytest
import tensorflow as tf

from mmkeras.data.image import ImageFeature, decode_image
from mmkeras.specs import load_spec
from mmkeras.testing import three_ways

CONTEXT = "row 5 of test, column image_path, file /data/picture.png"
# channels=1 goes through tf.image.rgb_to_grayscale, whose weights sum to 0.9999;
# test_gray_with_one_channel_is_exact checks that separately.
GRAY_ATOL = 2e-4


def png(pixels):
    return tf.io.encode_png(tf.constant(pixels)).numpy()


def bmp24(rgb):
    """A 24-bit uncompressed BMP (bottom-up rows, BGR, rows padded to 4 bytes)."""
    rgb = np.asarray(rgb, np.uint8)
    h, w, _ = rgb.shape
    row_size = (3 * w + 3) // 4 * 4
    rows = b"".join(rgb[y, :, ::-1].tobytes().ljust(row_size, b"\0") for y in range(h - 1, -1, -1))
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(rows), 2835, 2835, 0, 0)
    header = struct.pack("<2sIHHI", b"BM", 14 + len(info) + len(rows), 0, 0, 14 + len(info))
    return header + info + rows


def gif(indices, palette):
    """A GIF89a with a 4-colour palette, LZW data written without compression.

    A clear code is sent before every two literal codes, so the code size
    stays at 3 bits and no table entry is ever used.
    """
    indices = np.asarray(indices, np.uint8)
    h, w = indices.shape
    palette = np.asarray(palette, np.uint8).reshape(4, 3)
    clear, end = 4, 5
    codes = []
    flat = indices.ravel().tolist()
    for i in range(0, len(flat), 2):
        codes.append(clear)
        codes.extend(flat[i:i + 2])
    codes.append(end)
    bits = "".join(format(c, "03b")[::-1] for c in codes)  # LSB first
    bits += "0" * (-len(bits) % 8)
    data = bytes(int(bits[i:i + 8][::-1], 2) for i in range(0, len(bits), 8))
    blocks = b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255] for i in range(0, len(data), 255))
    return (b"GIF89a" + struct.pack("<HHBBB", w, h, 0x81, 0, 0) + palette.tobytes()
            + b"," + struct.pack("<HHHHB", 0, 0, w, h, 0) + bytes([2]) + blocks + b"\0;")


def decoder(height, width, channels):
    return lambda data: decode_image(data, height=height, width=width, channels=channels)


def random_pixels(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def test_png_rgb_exact_at_same_size():
    images = [random_pixels((5, 7, 3), seed) for seed in range(3)]
    for out in three_ways(decoder(5, 7, 3), [png(x) for x in images]):
        assert out.shape == (3, 5, 7, 3) and out.dtype == np.float32
        np.testing.assert_allclose(out, np.stack(images) / 255.0, atol=1e-6)


def test_png_gray_to_one_and_three_channels():
    gray = random_pixels((6, 4, 1), 1)
    data = [png(gray), png(gray[::-1])]
    expected = np.stack([gray, gray[::-1]]) / 255.0
    for out in three_ways(decoder(6, 4, 1), data):
        assert out.shape == (2, 6, 4, 1)
        np.testing.assert_allclose(out, expected, atol=GRAY_ATOL)
    for out in three_ways(decoder(6, 4, 3), data):
        assert out.shape == (2, 6, 4, 3)
        np.testing.assert_allclose(out, np.repeat(expected, 3, axis=-1), atol=1e-6)


def test_gray_with_one_channel_is_exact():
    """A grayscale PNG read with channels=1 keeps its values; white stays 1.0.

    Fails while gray goes gray -> RGB -> tf.image.rgb_to_grayscale, whose
    weights (0.2989, 0.5870, 0.1140) sum to 0.9999: white becomes 0.9999.
    """
    gray = np.array([[[255], [0]], [[128], [255]]], np.uint8)
    out = decode_image(png(gray), height=2, width=2, channels=1).numpy()
    np.testing.assert_allclose(out, gray / 255.0, atol=1e-6)
    transparent = np.zeros((2, 2, 4), np.uint8)
    out = decode_image(png(transparent), height=2, width=2, channels=1).numpy()
    np.testing.assert_allclose(out, 1.0, atol=1e-6)


def test_png_rgb_to_grayscale():
    rgb = random_pixels((4, 4, 3), 2)
    expected = tf.image.rgb_to_grayscale(rgb.astype(np.float32) / 255.0).numpy()
    for out in three_ways(decoder(4, 4, 1), [png(rgb), png(rgb)]):
        assert out.shape == (2, 4, 4, 1)
        np.testing.assert_allclose(out[0], expected, atol=GRAY_ATOL)


def test_png_alpha_flattened_onto_white():
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = [[[10, 20, 30]]]
    rgba[0, :, 3] = 0        # fully transparent -> white
    rgba[1, 0, 3] = 255      # opaque -> colour
    rgba[1, 1:, 3] = 128     # half -> blend
    color = rgba[..., :3] / 255.0
    alpha = rgba[..., 3:] / 255.0
    expected = color * alpha + (1 - alpha)
    for out in three_ways(decoder(2, 3, 3), [png(rgba), png(rgba)]):
        np.testing.assert_allclose(out[0, 0], 1.0, atol=1e-6)
        np.testing.assert_allclose(out[0, 1, 0], [10 / 255, 20 / 255, 30 / 255], atol=1e-6)
        np.testing.assert_allclose(out[0], expected, atol=1e-6)
    gray = decode_image(png(rgba), height=2, width=3, channels=1).numpy()
    np.testing.assert_allclose(gray[0], 1.0, atol=GRAY_ATOL)


def test_png_gray_alpha_flattened_onto_white():
    ga = np.stack([np.full((3, 3), 40, np.uint8), np.zeros((3, 3), np.uint8)], -1)
    ga[1, 1, 1] = 255
    for out in three_ways(decoder(3, 3, 3), [png(ga)]):
        expected = np.ones((3, 3, 3))
        expected[1, 1] = 40 / 255
        np.testing.assert_allclose(out[0], expected, atol=1e-6)


def test_png_16_bit():
    pixels = np.array([[[0], [32768]], [[65535], [16384]]], np.uint16)
    out = decode_image(png(pixels), height=2, width=2, channels=1).numpy()
    np.testing.assert_allclose(out[..., 0], pixels[..., 0] / 65535.0, atol=GRAY_ATOL)
    out = decode_image(png(np.repeat(pixels, 3, -1)), height=2, width=2, channels=3).numpy()
    np.testing.assert_allclose(out, np.repeat(pixels, 3, -1) / 65535.0, atol=1e-6)


def test_jpeg_rgb_and_gray():
    solid = np.zeros((8, 8, 3), np.uint8) + np.array([200, 100, 50], np.uint8)
    data = [tf.io.encode_jpeg(solid, quality=95).numpy()] * 2
    for out in three_ways(decoder(8, 8, 3), data):
        np.testing.assert_allclose(out, np.broadcast_to(solid / 255.0, out.shape), atol=0.03)
    gray = np.full((8, 8, 1), 77, np.uint8)
    out = decode_image(tf.io.encode_jpeg(gray), height=4, width=4, channels=3).numpy()
    np.testing.assert_allclose(out, 77 / 255.0, atol=0.02)


def test_bmp_24_bit_exact():
    pixels = random_pixels((3, 5, 3), 3)  # odd width: row padding is exercised
    data = bmp24(pixels)
    np.testing.assert_array_equal(tf.io.decode_bmp(data).numpy(), pixels)  # the writer is right
    for out in three_ways(decoder(3, 5, 3), [data, data]):
        np.testing.assert_allclose(out[0], pixels / 255.0, atol=1e-6)
    out = decode_image(data, height=3, width=5, channels=1).numpy()
    np.testing.assert_allclose(out, tf.image.rgb_to_grayscale(pixels / 255.0).numpy(), atol=GRAY_ATOL)


def test_gif_first_frame_exact():
    palette = [[0, 0, 0], [255, 0, 0], [0, 255, 0], [20, 40, 250]]
    indices = np.array([[0, 1, 2], [3, 2, 1]])
    data = gif(indices, palette)
    expected = np.asarray(palette)[indices]
    np.testing.assert_array_equal(tf.io.decode_gif(data).numpy()[0], expected)  # the writer is right
    for out in three_ways(decoder(2, 3, 3), [data, data]):
        np.testing.assert_allclose(out[0], expected / 255.0, atol=1e-6)


@pytest.mark.parametrize("channels", [1, 3])
def test_resize_to_requested_size_in_unit_range(channels):
    checker = (np.indices((9, 13)).sum(0) % 2 * 255).astype(np.uint8)
    images = [png(np.repeat(checker[..., None], 3, -1)), png(np.full((20, 3, 3), 255, np.uint8)),
              png(random_pixels((2, 2, 4), 4))]
    for out in three_ways(decoder(6, 5, channels), images):
        assert out.shape == (3, 6, 5, channels) and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
        np.testing.assert_allclose(out[1], 1.0, atol=GRAY_ATOL)  # a constant image stays constant
        np.testing.assert_allclose(out[0].mean(), 0.5, atol=0.1)  # antialiased checkerboard -> grey


def test_dataset_element_spec_is_static():
    ds = tf.data.Dataset.from_tensors(png(random_pixels((3, 3, 3)))).map(decoder(4, 6, 1))
    assert ds.element_spec.shape == (4, 6, 1) and ds.element_spec.dtype == tf.float32


@pytest.mark.parametrize("junk", [b"definitely not an image", b"RIFF\0\0\0\0WAVEfmt "])
def test_corrupt_bytes_eager_names_context(junk):
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        decode_image(tf.constant(junk), height=4, width=4, channels=3, context=CONTEXT)
    assert CONTEXT in info.value.message
    assert "Not a PNG, JPEG, GIF or BMP image" in info.value.message


def test_truncated_png_raises():
    data = png(random_pixels((8, 8, 3)))[:40]
    with pytest.raises(tf.errors.InvalidArgumentError):
        decode_image(tf.constant(data), height=4, width=4, channels=3, context=CONTEXT)


def test_corrupt_bytes_in_dataset_names_context():
    """In a graph (tf.data), the magic-bytes Assert must run before DecodeImage.

    Otherwise which error comes first is a race: often the pipeline reports
    "Unknown image file format" without row or file.
    """
    spec = tf.TensorSpec([], tf.string)
    graph = tf.function(lambda d, c: decode_image(d, height=4, width=4, channels=3, context=c)
                        ).get_concrete_function(spec, spec).graph
    decode = [op for op in graph.get_operations() if op.type == "DecodeImage"]
    check = [op for op in graph.get_operations() if op.type == "Assert" and "check_image_bytes" in op.name]
    assert len(decode) == 1 and len(check) == 1
    seen, stack = set(), [decode[0]]
    while stack:
        current = stack.pop()
        for parent in [t.op for t in current.inputs] + list(current.control_inputs):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    assert check[0] in seen, "DecodeImage is not ordered after the check_image_bytes Assert"

    ds = tf.data.Dataset.from_tensor_slices(([b"definitely not an image"] * 4, [CONTEXT] * 4))
    ds = ds.map(lambda d, c: decode_image(d, height=4, width=4, channels=3, context=c),
                num_parallel_calls=4).batch(2)
    for attempt in range(30):
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            list(ds)
        assert CONTEXT in info.value.message, f"attempt {attempt}: no context in {info.value.message[:400]}"


def test_image_feature():
    spec = load_spec({
        "spec_version": 1, "name": "image_test",
        "inputs": {"picture": {"type": "image", "column": "image_path", "height": 6, "width": 4, "channels": 1}},
        "outputs": {"y": {"type": "regression", "column": "y"}},
    }).inputs["picture"]
    feature = ImageFeature(spec)
    assert feature.shape == feature.decoded_shape == (6, 4, 1)
    assert feature.dtype == "float32" and feature.raw_dtype == tf.string and feature.is_file
    assert feature.adapt(["a.png"]) is feature
    feature.set_state(feature.get_state())
    data = [png(random_pixels((12, 8, 3), s)) for s in range(2)]
    eager = np.stack([feature.decode(tf.constant(d), "ctx").numpy() for d in data])
    ds = tf.data.Dataset.from_tensor_slices((data, ["a", "b"])).map(feature.decode).batch(2).map(feature.transform)
    np.testing.assert_allclose(next(iter(ds)).numpy(), eager, atol=1e-6)
    assert eager.shape == (2, 6, 4, 1)
