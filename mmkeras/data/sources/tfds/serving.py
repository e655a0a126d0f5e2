"""What the export serves, made from TFDS examples: encoded images as stored, WAV bytes, clips, strings, numbers."""

import io
import wave

import numpy as np

from mmkeras.data.sources.tfds.features import PCM16_SCALE, raw_value, value_at
from mmkeras.data.video import encode_frames


def wav_bytes(samples, rate):
    """Audio samples (integer 16-bit values, or floats in [-1, 1]) -> a 16-bit PCM WAV file's bytes.

    Integer samples are written as they are, so the export decodes exactly
    what training read; float samples are rounded to 16 bits.

    Example:

    >>> data = wav_bytes(np.array([0, 1000, -1000], np.int16), 8000)
    >>> audio, rate = tf.audio.decode_wav(data)
    >>> int(rate), audio[:, 0].numpy().tolist() == [0.0, 1000 / 32768, -1000 / 32768]
    (8000, True)
    """
    samples = np.asarray(samples)
    if not np.issubdtype(samples.dtype, np.integer):
        samples = np.round(samples.astype(np.float64) * PCM16_SCALE)
    samples = np.clip(samples, -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1 if samples.ndim == 1 else samples.shape[1])
        out.setsampwidth(2)
        out.setframerate(int(rate))
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def serving_values(input_spec, values, *, rate=None):
    """Raw values of one input (from `raw_value`, numpy) -> what the export's `serving_default` takes.

    Images: the encoded bytes TFDS stores (PNG, JPEG); video: one
    `encode_frames` string per clip; audio: WAV bytes (`wav_bytes` at
    `rate`); numbers float32; strings as str.

    Example:

    >>> serving_values(spec.inputs["caption"], [b"a red circle"])
    array(['a red circle'], dtype=object)
    """
    kind = input_spec.type
    if kind == "numeric":
        return np.asarray(values, np.float32)
    if kind == "image":
        return np.array([bytes(v) for v in values], dtype=object)
    if kind == "video":
        return np.array([encode_frames([bytes(f) for f in v]) for v in values], dtype=object)
    if kind == "audio":
        return np.array([wav_bytes(v, rate) for v in values], dtype=object)
    return np.array([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values], dtype=object)


def serving_batch(source, split, count=None):
    """(raw serving inputs, outputs) of the first `count` examples of a split, in dataset order.

    The inputs are what the export's `serving_default` takes (encoded
    images as TFDS stores them, WAV bytes, `encode_frames` clips,
    strings, float32); the outputs are class names or numbers.

    Example:

    >>> tfds = mmkeras.data.sources.tfds
    >>> _ = tfds.build_tfds_dataset(spec, tmp_dir, name="tiny_demo", verbose=False)
    >>> inputs, outputs = serving_batch(tfds.TfdsSource(tfds.tfds_spec_dict(spec, "tiny_demo", tmp_dir)), "test", 2)
    >>> inputs["sound"][0][:4], list(outputs["label"]) == list(splits["test"]["label"][:2])
    (b'RIFF', True)
    """
    spec = source.spec

    def example(ex):
        raw = {n: raw_value(i, source.input_features[n], value_at(ex, i.column)) for n, i in spec.inputs.items()}
        return raw, {n: value_at(ex, o.column) for n, o in spec.outputs.items()}

    ds = source.read(split, decoders=source.media_decoders()).map(example)
    rows = list((ds if count is None else ds.take(count)).as_numpy_iterator())
    inputs = {n: serving_values(i, [r[0][n] for r in rows], rate=source.rates.get(n)) for n, i in spec.inputs.items()}
    outputs = {}
    for n, feature in source.output_features.items():
        values = np.array([r[1][n] for r in rows])
        outputs[n] = np.array(feature.names, dtype=object)[values] if hasattr(feature, "names") else values
    return inputs, outputs
