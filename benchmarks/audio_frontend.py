"""Figure 3: the in-graph audio frontend against librosa on the same clips, with the parity error.

    python -m benchmarks.audio_frontend [--clips 256] [--seconds 1.0] [--sample-rate 16000] [--repeats 3]

A batch of `--clips` clips (tones plus noise, seeded) goes through each
feature three ways: mmkeras' `AudioFrontend` as a `tf.function` (what the
tf.data pipeline runs per batch), the same under XLA (`jit_compile=True`,
what the Keras layers give inside a compiled model), and librosa clip by
clip (`melspectrogram` + `power_to_db`, `mfcc`, `chroma_stft`, `stft`) with
the same arguments. Times are medians of `--repeats` runs after a warm-up;
speedups are ratios of times measured in this one run. The parity column
is the largest relative error ||ours - librosa|| / ||librosa|| over the clips.
TensorFlow uses every core; librosa runs one clip at a time, as usual.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import common  # noqa: E402
from mmkeras.layers.audio_frontend import AudioFrontend  # noqa: E402

FEATURES = ("spectrogram", "log_mel", "mfcc", "chroma")


def make_clips(count, seconds, sample_rate, seed=0):
    """`[count, samples]` float32: two random tones plus noise per clip."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    freqs = rng.uniform(80.0, sample_rate / 3, size=(count, 2, 1))
    waves = 0.3 * np.sin(2 * np.pi * freqs[:, 0] * t) + 0.2 * np.sin(2 * np.pi * freqs[:, 1] * t)
    return (waves + 0.02 * rng.normal(size=waves.shape)).astype(np.float32)


def librosa_feature(feature, y, settings):
    """librosa's feature for one clip, `[frames, bins]`."""
    import librosa

    s = settings
    stft = dict(n_fft=s["n_fft"], hop_length=s["hop_length"], window="hann", center=True)
    mel = dict(n_mels=s["n_mels"], fmin=0.0, fmax=None)
    if feature == "spectrogram":
        out = librosa.power_to_db(np.abs(librosa.stft(y, **stft)) ** 2.0, top_db=80.0)
    elif feature == "log_mel":
        out = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=s["sample_rate"], **stft, **mel),
                                  top_db=80.0)
    elif feature == "mfcc":
        out = librosa.feature.mfcc(y=y, sr=s["sample_rate"], n_mfcc=s["n_mfcc"], **stft, **mel)
    else:
        out = librosa.feature.chroma_stft(y=y, sr=s["sample_rate"], tuning=0.0, **stft)
    return out.T


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def measure(feature, clips, settings, repeats):
    frontend = AudioFrontend(feature, **settings)
    batch = tf.constant(clips)
    graph = tf.function(frontend)
    xla = tf.function(frontend, jit_compile=True)
    ours = graph(batch).numpy()  # warm-up (tracing) and the values compared
    xla(batch).numpy()
    graph_s, _ = common.median_time(lambda: graph(batch).numpy(), repeats)
    xla_s, _ = common.median_time(lambda: xla(batch).numpy(), repeats)
    librosa_feature(feature, clips[0], settings)  # warm-up (filterbank caches)
    reference = []
    librosa_s, _ = common.median_time(
        lambda: reference.__setitem__(slice(None), [librosa_feature(feature, y, settings) for y in clips]), repeats)
    parity = max(rel_err(o, r) for o, r in zip(ours, reference))
    xla_parity = max(rel_err(o, r) for o, r in zip(xla(batch).numpy(), reference))
    return {"feature": feature, "clips": len(clips), "shape": "x".join(map(str, ours.shape[1:])),
            "mmkeras_ms": graph_s * 1e3, "mmkeras_xla_ms": xla_s * 1e3, "librosa_ms": librosa_s * 1e3,
            "speedup": librosa_s / graph_s, "speedup_xla": librosa_s / xla_s,
            "clips_per_s": len(clips) / graph_s, "parity_rel_err": max(parity, xla_parity),
            "parity_ok": max(parity, xla_parity) <= 1e-5}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--n-fft", type=int, default=512)
    parser.add_argument("--hop-length", type=int, default=128)
    parser.add_argument("--n-mels", type=int, default=64)
    parser.add_argument("--n-mfcc", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--features", nargs="*", default=list(FEATURES), choices=FEATURES)
    args = parser.parse_args(argv)
    settings = dict(sample_rate=args.sample_rate, n_fft=args.n_fft, hop_length=args.hop_length,
                    n_mels=args.n_mels, n_mfcc=args.n_mfcc)
    clips = make_clips(args.clips, args.seconds, args.sample_rate)
    rows = [measure(feature, clips, settings, args.repeats) for feature in args.features]
    common.print_table(f"3. Audio frontend: {args.clips} clips of {args.seconds:g} s at {args.sample_rate} Hz "
                       f"(n_fft {args.n_fft}, hop {args.hop_length}), mmkeras in-graph vs librosa", rows,
                       ["feature", "shape", "mmkeras_ms", "mmkeras_xla_ms", "librosa_ms", "speedup", "speedup_xla",
                        "clips_per_s", "parity_rel_err", "parity_ok"])
    out = common.write_result("audio_frontend", {"args": vars(args), "settings": settings, "results": rows})
    print(f"\nwritten to {out}")
    return rows


if __name__ == "__main__":
    main()
