"""Audio frontend per core, and whether a float32 STFT can keep librosa parity (<= 1e-5).

    python -m benchmarks.stft_precision [--clips 128] [--repeats 3]

For each setting (figure 3's 16 kHz clips, the av_digits and demo audio
inputs) and feature, three ways of computing the STFT power under the same
mel/dB/DCT/chroma steps as `mmkeras.layers.audio_frontend.AudioFrontend`:

- `float64 FFT` (as shipped): frames cast to float64, `tf.signal.rfft`, the
  result stored as complex64 like librosa's;
- `float32 FFT`: the same in float32 (`tf.signal.rfft` on float32 frames);
- `float32 DFT matmul`: the windowed DFT as two float32 matrix products
  (frames x window*cos, frames x window*sin; the matrices built in float64).

Each is timed as a `tf.function` on a batch of `--clips` clips: wall and
CPU-seconds per clip (user + system of the process, every thread), beside
librosa clip by clip with BLAS on one thread; parity is the largest
||ours - librosa|| / ||librosa|| over the clips (figure 3's measure).
"""

import argparse
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import common  # noqa: E402
from benchmarks.audio_frontend import librosa_feature, make_clips, rel_err  # noqa: E402
from benchmarks.cpu_cost import cost, one_blas_thread  # noqa: E402
from mmkeras.layers.audio_frontend import AudioFrontend, normalize_max, power_to_db, stft_power  # noqa: E402

PARITY = 1e-5
FEATURES = ("spectrogram", "log_mel", "mfcc", "chroma")
SETTINGS = {  # name: (sample_rate, seconds, n_fft, hop_length, n_mels)
    "figure 3 (16 kHz, 1 s)": (16000, 1.0, 512, 128, 64),
    "av_digits speech (8 kHz, 1 s)": (8000, 1.0, 256, 64, 40),
    "demo sound (8 kHz, 0.5 s)": (8000, 0.5, 256, 64, 32),
}


def _frames(waves, n_fft, hop):
    return tf.signal.frame(tf.pad(waves, [[0, 0], [n_fft // 2, n_fft // 2]]), n_fft, hop)


def stft_float32_fft(window):
    """STFT power with a float32 `rfft` (the window product in float32 too)."""
    n_fft = len(window)

    def power(waves, hop):
        spectrum = tf.signal.rfft(_frames(waves, n_fft, hop) * tf.constant(window, tf.float32))
        return tf.math.square(tf.math.real(spectrum)) + tf.math.square(tf.math.imag(spectrum))
    return power


def stft_float32_matmul(window):
    """STFT power as two float32 matrix products with window*cos and window*sin (built in float64)."""
    n_fft = len(window)
    k = np.arange(n_fft // 2 + 1)[None, :]
    t = np.arange(n_fft)[:, None]
    angle = 2.0 * math.pi * t * k / n_fft
    cos = tf.constant((window[:, None] * np.cos(angle)).astype(np.float32))
    sin = tf.constant((window[:, None] * -np.sin(angle)).astype(np.float32))

    def power(waves, hop):
        frames = _frames(waves, n_fft, hop)
        return tf.math.square(tf.linalg.matmul(frames, cos)) + tf.math.square(tf.linalg.matmul(frames, sin))
    return power


def feature_fn(frontend, power_fn):
    """`frontend`'s feature computed from `power_fn(waves, hop)` (the steps after the STFT as shipped)."""
    def fn(waves):
        power = power_fn(waves, frontend.hop_length)
        if frontend.features == "spectrogram":
            return power_to_db(power, frontend.top_db)
        mixed = tf.tensordot(power, tf.constant(frontend.filterbank), axes=1)
        if frontend.features == "chroma":
            return normalize_max(mixed)
        db = power_to_db(mixed, frontend.top_db)
        return tf.tensordot(db, tf.constant(frontend.dct), axes=1) if frontend.features == "mfcc" else db
    return tf.function(fn)


def measure_setting(name, setting, clips, repeats):
    """Rows {setting, feature, way, cpu_ms_per_clip, wall_ms_per_clip, parity_rel_err, parity_ok} for one setting."""
    sample_rate, seconds, n_fft, hop, n_mels = setting
    waves = make_clips(clips, seconds, sample_rate)
    batch = tf.constant(waves)
    settings = dict(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop, n_mels=n_mels, n_mfcc=20)
    rows = []
    for feature in FEATURES:
        frontend = AudioFrontend(feature, **settings)
        window = frontend.window_array
        ways = {"float64 FFT (as shipped)": lambda w, h, fe=frontend: stft_power(w, n_fft=n_fft, hop_length=h,
                                                                                window=fe.window_array),
                "float32 FFT": stft_float32_fft(window), "float32 DFT matmul": stft_float32_matmul(window)}
        reference = [librosa_feature(feature, y, settings) for y in waves]
        loop = lambda: [librosa_feature(feature, y, settings) for y in waves]  # noqa: E731
        c = cost(one_blas_thread(loop), clips, repeats)
        rows.append({"setting": name, "feature": feature, "way": "librosa clip by clip (BLAS 1 thread)",
                     "cpu_ms_per_clip": c["cpu_ms"], "wall_ms_per_clip": c["wall_ms"]})
        for way, power_fn in ways.items():
            fn = feature_fn(frontend, power_fn)
            out = fn(batch).numpy()  # traces outside the timing
            c = cost(lambda fn=fn: fn(batch).numpy(), clips, repeats)
            parity = max(rel_err(o, r) for o, r in zip(out, reference))
            rows.append({"setting": name, "feature": feature, "way": way, "cpu_ms_per_clip": c["cpu_ms"],
                         "wall_ms_per_clip": c["wall_ms"], "parity_rel_err": parity, "parity_ok": parity <= PARITY})
    librosa_cpu = {r["feature"]: r["cpu_ms_per_clip"] for r in rows if r["way"].startswith("librosa")}
    for r in rows:
        r["cpu_speedup_vs_librosa"] = librosa_cpu[r["feature"]] / r["cpu_ms_per_clip"]
    return rows


def verdict(rows):
    """One sentence: does any float32 way keep parity for every feature and setting, with the figures."""
    f32 = [r for r in rows if r["way"].startswith("float32")]
    worst = {}
    for r in f32:
        worst[r["way"]] = max(worst.get(r["way"], 0.0), r["parity_rel_err"])
    ok = [w for w, e in worst.items() if e <= PARITY]
    shipped = max(r["parity_rel_err"] for r in rows if r["way"].startswith("float64"))
    parts = "; ".join(f"{w}: worst parity {e:.2g}" for w, e in worst.items())
    if ok:
        return f"{', '.join(ok)} keep parity <= {PARITY:g} everywhere ({parts}; float64 as shipped {shipped:.2g})."
    return (f"No float32 formulation tried keeps parity <= {PARITY:g} for every feature and setting ({parts}; "
            f"float64 as shipped: {shipped:.2g}), so the frontend keeps its float64 FFT and offers no "
            f"features_precision option.")


def main(argv=None):
    """Measures every setting; prints the table and the verdict; writes results/stft_precision.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    args = parser.parse_args(argv)
    rows = [r for name in args.settings for r in measure_setting(name, SETTINGS[name], args.clips, args.repeats)]
    common.print_table(f"Audio frontend per core, {args.clips} clips (parity goal <= {PARITY:g})", rows,
                       ["setting", "feature", "way", "cpu_ms_per_clip", "wall_ms_per_clip", "cpu_speedup_vs_librosa",
                        "parity_rel_err", "parity_ok"])
    text = verdict(rows)
    print("\n" + text)
    path = common.write_result("stft_precision", {"args": vars(args), "parity_goal": PARITY, "verdict": text,
                                                  "results": rows})
    print(f"written to {path}")
    return rows


if __name__ == "__main__":
    main()
