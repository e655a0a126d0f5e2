"""Synthetic multimodal demo dataset written as real files on disk.

The label of every example is made of three independent bits, each carried
by a different modality (image shape, audio pitch, text topic), so a model
has to combine the modalities to predict it well. Weak hints of two of the
bits are also present in a numeric and a categorical column.
"""

import os

import numpy as np
import pandas as pd
import tensorflow as tf

SHAPES = ("circle", "square")
PITCHES = ("low", "high")
TOPICS = ("animal", "vehicle")
DEMO_CLASSES = tuple(sorted(
    f"{s}-{p}-{t}" for s in SHAPES for p in PITCHES for t in TOPICS))

IMAGE_SIZE = 32
SAMPLE_RATE = 8000
MANIFEST_COLUMNS = ("image_path", "audio_path", "text", "reading",
                    "colour_name", "label", "split")

_ANIMALS = ("dog", "cat", "horse", "rabbit", "fox", "cow", "sheep", "goat",
            "duck", "deer")
_VEHICLES = ("car", "truck", "bus", "bicycle", "tractor", "van", "motorbike",
             "train", "scooter", "taxi")
_ADJECTIVES = ("big", "small", "quiet", "noisy", "dusty", "strange",
               "lovely", "muddy", "pale", "dark")
_PLACES = ("near the river", "in the park", "on the hill", "behind the house",
           "next to the school", "in the village", "by the old bridge",
           "at the market")
_TEMPLATES = ("I saw a {adj} {noun} {place}.",
              "There was a {adj} {noun} {place}.",
              "A {adj} {noun} stood {place}.",
              "Look at that {adj} {noun} {place}!",
              "We found a {adj} {noun} {place} today.")
_WARM = ("red", "orange", "yellow", "green")
_COOL = ("blue", "purple", "grey", "pink")
_SPLIT_FRACTIONS = (("validation", 0.15), ("test", 0.15))


def _make_images(rng, x):
    """Returns uint8 images of shape `(n, 32, 32, 3)`: circle or square."""
    n, size = len(x), IMAGE_SIZE
    r = rng.integers(5, 11, size=n)
    cy = rng.integers(r, size - r)
    cx = rng.integers(r, size - r)
    fg = rng.integers(150, 256, size=(n, 3))
    bg = rng.integers(0, 70, size=(n, 3))
    noise = rng.normal(0.0, 15.0, size=(n, size, size, 3))
    yy, xx = np.mgrid[0:size, 0:size]
    dy = yy[None] - cy[:, None, None]
    dx = xx[None] - cx[:, None, None]
    rr = r[:, None, None]
    circle = dy**2 + dx**2 <= rr * (rr + 1)  # round edge, no nubs
    square = (np.abs(dy) <= rr) & (np.abs(dx) <= rr)
    mask = np.where(x[:, None, None] == 1, square, circle)[..., None]
    img = np.where(mask, fg[:, None, None, :], bg[:, None, None, :]) + noise
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _make_audio(rng, y):
    """Returns a list of float32 mono waveforms: low or high sine tones."""
    n = len(y)
    freq = np.where(y == 1, rng.uniform(1200, 2200, n), rng.uniform(200, 450, n))
    lengths = np.rint(rng.uniform(0.3, 0.7, n) * SAMPLE_RATE).astype(int)
    amp = rng.uniform(0.3, 0.8, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    max_len = lengths.max()
    t = np.arange(max_len) / SAMPLE_RATE
    wave = amp[:, None] * np.sin(2 * np.pi * freq[:, None] * t + phase[:, None])
    fade = int(0.01 * SAMPLE_RATE)
    idx = np.arange(max_len)[None, :]
    env = np.minimum(1.0, np.minimum((idx + 1) / fade,
                                     (lengths[:, None] - idx) / fade))
    wave = wave * np.clip(env, 0.0, 1.0)
    wave = wave + rng.normal(0.0, 0.05, size=wave.shape)
    wave = np.clip(wave, -1.0, 1.0).astype(np.float32)
    return [wave[i, : lengths[i]] for i in range(n)]


def _make_text(rng, z):
    """Returns template sentences whose noun is an animal or a vehicle."""
    n = len(z)
    nouns = np.where(z == 1, np.array(_VEHICLES)[rng.integers(0, 10, n)],
                     np.array(_ANIMALS)[rng.integers(0, 10, n)])
    adjs = rng.integers(0, len(_ADJECTIVES), n)
    places = rng.integers(0, len(_PLACES), n)
    templates = rng.integers(0, len(_TEMPLATES), n)
    return [
        _TEMPLATES[templates[i]].format(
            adj=_ADJECTIVES[adjs[i]], noun=nouns[i], place=_PLACES[places[i]])
        for i in range(n)
    ]


def _make_splits(rng, labels):
    """Returns a stratified train/validation/test assignment per row."""
    split = np.full(len(labels), "train", dtype=object)
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        start = 0
        for name, frac in _SPLIT_FRACTIONS:
            k = max(1, int(round(frac * len(rows))))
            split[rows[start : start + k]] = name
            start += k
    return split


def make_demo_data(out_dir, *, num_examples=960, seed=0, overwrite=False):
    """Writes a small synthetic multimodal classification dataset to disk.

    Every example has a 32x32 RGB PNG (a filled circle or square), an
    8 kHz mono WAV (a low or high sine tone of 0.3-0.7 s), a short English
    sentence (about an animal or a vehicle), a noisy numeric `reading`
    (weak hint of the topic, ~2% NaN) and a categorical `colour_name`
    (weak hint of the shape). The label `f"{shape}-{pitch}-{topic}"` is one
    of the 8 `DEMO_CLASSES`, so all three main modalities are needed to
    predict it. Classes are balanced and the `split` column is stratified
    70% / 15% / 15% into "train" / "validation" / "test".

    Args:
        out_dir: Folder to write into. `images/`, `audio/` and
            `manifest.csv` are created inside it.
        num_examples: Number of examples, at least 24 (3 per class).
        seed: Seed of `numpy.random.default_rng`; the output is fully
            determined by `num_examples` and `seed`.
        overwrite: If `False`, refuse to write into an existing, non-empty
            `out_dir`. If `True`, the `images/` and `audio/` folders and the
            manifest are replaced; other files in `out_dir` are left alone.

    Returns:
        The path of the written manifest CSV (`out_dir/manifest.csv`). Paths
        in the manifest are relative to `out_dir`.

    Example:

    ```python
    import pandas as pd
    from mmkeras.demo.data import make_demo_data, demo_spec_dict

    manifest = make_demo_data("demo_data", num_examples=96, seed=1)
    df = pd.read_csv(manifest)
    spec = demo_spec_dict(manifest)
    ```
    """
    out_dir = os.fspath(out_dir)
    num_examples = int(num_examples)
    if num_examples < 3 * len(DEMO_CLASSES):
        raise ValueError(
            f"num_examples must be at least {3 * len(DEMO_CLASSES)} so that "
            f"every class appears in every split, got {num_examples}.")
    if tf.io.gfile.exists(out_dir) and tf.io.gfile.listdir(out_dir):
        if not overwrite:
            raise FileExistsError(
                f"Output folder {out_dir!r} exists and is not empty. Choose "
                "another folder or pass overwrite=True to replace the demo "
                "data in it.")
        for sub in ("images", "audio"):
            path = os.path.join(out_dir, sub)
            if tf.io.gfile.exists(path):
                tf.io.gfile.rmtree(path)
    for sub in ("images", "audio"):
        tf.io.gfile.makedirs(os.path.join(out_dir, sub))

    rng = np.random.default_rng(seed)
    # Balanced classes: every label appears num_examples // 8 (+1) times; the
    # bits x, y, z are fair and independent over the dataset.
    label_ids = rng.permutation(np.arange(num_examples) % len(DEMO_CLASSES))
    x, y, z = label_ids // 4, (label_ids // 2) % 2, label_ids % 2
    labels = np.array([f"{SHAPES[a]}-{PITCHES[b]}-{TOPICS[c]}"
                       for a, b, c in zip(x, y, z)], dtype=object)

    images = _make_images(rng, x)
    waves = _make_audio(rng, y)
    texts = _make_text(rng, z)

    reading = rng.normal(0.8 * z, 1.0)
    num_nan = max(1, int(round(0.02 * num_examples)))
    reading[rng.choice(num_examples, size=num_nan, replace=False)] = np.nan

    likely = rng.random(num_examples) < 0.7
    warm = np.where(x == 0, likely, ~likely)
    colour = np.where(warm, np.array(_WARM)[rng.integers(0, 4, num_examples)],
                      np.array(_COOL)[rng.integers(0, 4, num_examples)])

    split = _make_splits(rng, label_ids)

    image_paths = [f"images/{i:05d}.png" for i in range(num_examples)]
    audio_paths = [f"audio/{i:05d}.wav" for i in range(num_examples)]
    for i in range(num_examples):
        tf.io.write_file(os.path.join(out_dir, image_paths[i]),
                         tf.io.encode_png(images[i]))
        tf.io.write_file(
            os.path.join(out_dir, audio_paths[i]),
            tf.audio.encode_wav(waves[i][:, None], SAMPLE_RATE))

    df = pd.DataFrame({
        "image_path": image_paths,
        "audio_path": audio_paths,
        "text": texts,
        "reading": reading,
        "colour_name": colour,
        "label": labels,
        "split": split,
    }, columns=list(MANIFEST_COLUMNS))
    manifest = os.path.join(out_dir, "manifest.csv")
    with tf.io.gfile.GFile(manifest, "w") as f:
        df.to_csv(f, index=False)
    return manifest


def demo_spec_dict(manifest_path):
    """Returns the model spec (as a dict) that goes with `make_demo_data`.

    Args:
        manifest_path: Path of a manifest written by `make_demo_data`.

    Returns:
        A spec dict, the same as `data_specs/demo.yaml`, with `data.path`
        set to the absolute manifest path and `data.root` to its folder.
    """
    path = os.path.abspath(os.fspath(manifest_path))
    return {
        "spec_version": 1,
        "name": "demo",
        "data": {
            "path": path,
            "root": os.path.dirname(path),
            "split": {"column": "split", "train": "train",
                      "validation": "validation", "test": "test"},
        },
        "inputs": {
            "picture": {"type": "image", "column": "image_path",
                        "height": 32, "width": 32, "channels": 3},
            "sound": {"type": "audio", "column": "audio_path",
                      "sample_rate": 8000, "duration": 0.5, "crop": "start",
                      "features": "log_mel", "n_mels": 32},
            "caption": {"type": "text", "column": "text", "max_tokens": 500,
                        "sequence_length": 12,
                        "encoder": {"type": "bag_of_embeddings"}},
            "reading": {"type": "numeric", "column": "reading"},
            "colour": {"type": "categorical", "column": "colour_name"},
        },
        "fusion": {"type": "concat", "hidden_units": [64], "dropout": 0.1},
        "outputs": {"label": {"type": "classification", "column": "label"}},
        "training": {"epochs": 12, "batch_size": 32, "learning_rate": 0.003, "seed": 0},
    }
