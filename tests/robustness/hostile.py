"""Hostile files for the robustness cases: broken images, odd WAV files, paths out of the data root.

Each maker takes the data root and returns the cell to put in the table (a
path relative to the root, or an absolute one).
"""

import os
import struct
import wave

import numpy as np


def _write(root, name, data):
    with open(os.path.join(root, name), "wb") as f:
        f.write(data)
    return name


def _png(root):
    with open(os.path.join(root, "images", "00000.png"), "rb") as f:
        return f.read()


def _wav(root, name, *, width=2, channels=1, rate=8000, frames=4000):
    samples = (np.sin(np.arange(frames * channels) / 5.0) * 0.5 * (2 ** (8 * width - 1) - 1)).astype(np.int64)
    if width == 1:
        data = (samples + 128).astype(np.uint8).tobytes()
    else:
        data = b"".join(int(s).to_bytes(width, "little", signed=True) for s in samples)
    with wave.open(os.path.join(root, name), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)
    return name


def _float_wav(root, name, frames=4000, rate=8000):
    data = (np.sin(np.arange(frames) / 5.0) * 0.5).astype("<f4").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 3, 1, rate, rate * 4, 4, 32) + b"data" + struct.pack("<I", len(data))
    return _write(root, name, header + data)


def truncated_png(root):
    """The first half of a good PNG."""
    data = _png(root)
    return _write(root, "truncated.png", data[:len(data) // 2])


def zero_byte_png(root):
    return _write(root, "empty.png", b"")


def jpeg_named_png(root):
    """A JPEG file with a .png name."""
    import tensorflow as tf  # deferred: only the cases that make images need TensorFlow
    image = tf.io.decode_png(_png(root))
    return _write(root, "jpeg.png", tf.io.encode_jpeg(image).numpy())


def text_named_png(root):
    return _write(root, "text.png", b"this is not an image\n")


def directory_as_file(root):
    os.makedirs(os.path.join(root, "folder.png"), exist_ok=True)
    return "folder.png"


def missing_file(root):
    return "images/does_not_exist.png"


def dot_dot_path(root):
    return "../../etc/passwd"


def absolute_path(root):
    """A good PNG, but at an absolute path outside the root."""
    outside = os.path.join(os.path.dirname(os.path.abspath(root)), "outside.png")
    with open(outside, "wb") as f:
        f.write(_png(root))
    return outside


def symlink_out(root):
    """A symlink inside the root to a good PNG outside it."""
    target = absolute_path(root)
    link = os.path.join(root, "link.png")
    if not os.path.lexists(link):
        os.symlink(target, link)
    return "link.png"


def truncated_wav(root):
    """A WAV cut inside its header."""
    _wav(root, "whole.wav")
    with open(os.path.join(root, "whole.wav"), "rb") as f:
        return _write(root, "truncated.wav", f.read()[:30])


def header_longer_than_data(root):
    """A WAV whose header promises more samples than the file holds."""
    _wav(root, "long.wav")
    with open(os.path.join(root, "long.wav"), "rb") as f:
        data = f.read()
    return _write(root, "short_data.wav", data[:44 + 100])


def wav_8bit(root):
    return _wav(root, "8bit.wav", width=1)


def wav_24bit(root):
    return _wav(root, "24bit.wav", width=3)


def wav_float(root):
    return _float_wav(root, "float.wav")


def wav_stereo(root):
    return _wav(root, "stereo.wav", channels=2)


def wav_other_rate(root):
    return _wav(root, "16k.wav", rate=16000, frames=8000)
