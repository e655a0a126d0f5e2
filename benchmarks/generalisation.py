"""Generalisation to unseen speakers: leave-one-speaker-out accuracy of every audio feature x encoder pair.

    python -m benchmarks.generalisation [--quick] [--pairs log_mel+cnn ...] [--variants base norm aug norm+aug]
                                        [--epochs N] [--speakers K] [--per-speaker N] [--seen]

On the FSDD clips of `../shared/data/av_digits/manifest.csv` (audio alone;
skipped, with a message, when absent) each pair is trained with the shared
`av_digits` spec's speech settings (sample rate, duration, crop, n_mels,
fusion head, batch size, learning rate, seed) once per held-out speaker on the
other speakers' clips and evaluated on the held-out speaker's (the folds of
`mmkeras cv --group-by speaker --folds 5`). `--speakers K` holds out only the
first K speakers (sorted), `--per-speaker N` keeps N clips of each speaker
(stratified by digit, seeded). Variants (the ablation): `base` the spec's
settings, `norm` adds `feature_norm: clip_mean`, `cmvn` `feature_norm: clip`, `aug` adds the training
augmentations (time shift, gain, noise, SpecAugment masks; `AUGMENT`), and
`norm+aug` both. `--seen` adds the figure on the spec's own test split (the
same speakers as train) beside each pair. Accuracy is computed in memory
(the export applies the same preprocessing; tests/test_generalisation_audio.py).

`--quick` (2 epochs, 2 held-out speakers, 60 clips per speaker, variants base
and norm+aug) checks that it runs; its numbers mean little. Results:
benchmarks/results/generalisation.json.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks import common  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared")
SPEC = os.path.join(SHARED, "specs", "av_digits.yaml")
PAIRS = ("log_mel+cnn", "mfcc+cnn", "spectrogram+cnn", "log_mel+crnn", "waveform+cnn1d")
AUGMENT = {"time_shift": 0.1, "gain_db": 6.0, "noise": 0.005, "time_masks": 2, "time_mask_width": 8,
           "freq_masks": 2, "freq_mask_width": 6}
SHIFT = {"time_shift": 0.1, "gain_db": 6.0}  # the waveform augmentations alone, no masks or noise
VARIANTS = {"base": {}, "norm": {"feature_norm": "clip_mean"}, "cmvn": {"feature_norm": "clip"},
            "aug": {"augment": AUGMENT}, "norm+aug": {"feature_norm": "clip_mean", "augment": AUGMENT},
            "norm+shift": {"feature_norm": "clip_mean", "augment": SHIFT}}
WAVE_MASK_WIDTH = 400  # samples: 50 ms at 8 kHz, about 8 frames of the other features
QUICK = {"epochs": 2, "speakers": 2, "per_speaker": 60, "variants": ["base", "norm+aug"]}


def audio_spec(pair, variant, *, epochs=None, split=None):
    """The shared av_digits spec with its speech input alone, as `pair` (FEATURES+ENCODER) with `variant`'s options.

    Example:

    >>> d = audio_spec("mfcc+cnn", "norm", epochs=1)
    >>> d["inputs"]["speech"]["features"], d["inputs"]["speech"]["feature_norm"], list(d["inputs"])
    ('mfcc', 'clip_mean', ['speech'])
    """
    import mmkeras

    base = mmkeras.load_spec(SPEC).to_dict()
    features, encoder = pair.split("+")
    speech = {k: v for k, v in base["inputs"]["speech"].items() if k not in ("name",)}
    speech.update({"features": features, "encoder": {"type": encoder}, **VARIANTS[variant]})
    if features == "waveform" and "augment" in speech:  # one channel: no band masks; time stripes in samples
        speech["augment"] = {**speech["augment"], "freq_masks": 0, "time_mask_width": WAVE_MASK_WIDTH}
    training = {**base["training"], "jit_compile": False, **({"epochs": epochs} if epochs else {})}
    data = {**base["data"], "split": split or base["data"]["split"]}
    name = f"fsdd_{features}_{encoder}_{variant.replace('+', '_')}"  # Keras scope names take no '+'
    return {**base, "name": name, "data": data, "inputs": {"speech": speech}, "training": training}


def subsample(df, per_speaker, seed=0):
    """At most `per_speaker` rows of each speaker, stratified by label, seeded (None keeps every row).

    Example:

    >>> df = pd.DataFrame({"speaker": ["a"] * 4 + ["b"] * 4, "label": [0, 1] * 4})
    >>> subsample(df, 2)["speaker"].value_counts().to_dict()
    {'a': 2, 'b': 2}
    """
    if not per_speaker:
        return df.reset_index(drop=True)
    from mmkeras.data.sources.table import fraction_split

    parts = []
    for _, rows in df.groupby("speaker", sort=True):
        keep = fraction_split(np.arange(len(rows)), rows["label"].astype(str).to_numpy(),
                              [min(1.0, per_speaker / len(rows))], seed)[0]
        parts.append(rows.iloc[keep])
    import pandas as pd

    return pd.concat(parts, ignore_index=True)


def leave_speakers_out(spec_dict, pool, held_out):
    """Accuracy on each held-out speaker of a model trained on the other speakers' rows: {speaker: accuracy}."""
    import keras

    import mmkeras
    from mmkeras.data.sources import TableSource
    from mmkeras.runs.lifecycle import evaluate_splits, train_model

    spec = mmkeras.load_spec(spec_dict)
    out = {}
    for speaker in held_out:
        keras.backend.clear_session()
        source = TableSource(spec, {"train": pool[pool["speaker"] != speaker].reset_index(drop=True),
                                    "test": pool[pool["speaker"] == speaker].reset_index(drop=True)})
        trained = train_model(spec, source, verbose=False)
        out[speaker] = float(evaluate_splits(trained, ("test",))["test"]["digit"]["accuracy"])
    return out


def seen_accuracy(spec_dict, per_speaker):
    """Accuracy on the spec's own test split (speakers seen in training), train rows subsampled like the folds."""
    import keras

    import mmkeras
    from mmkeras.data.sources import TableSource
    from mmkeras.runs.lifecycle import evaluate_splits, train_model

    spec = mmkeras.load_spec(spec_dict)
    splits = mmkeras.load_splits(spec)
    keras.backend.clear_session()
    train = subsample(splits["train"], per_speaker)
    trained = train_model(spec, TableSource(spec, {"train": train, "test": splits["test"]}), verbose=False)
    return float(evaluate_splits(trained, ("test",))["test"]["digit"]["accuracy"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks that it runs")
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=PAIRS)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS))
    parser.add_argument("--epochs", type=int, help="default: the shared spec's (15); --quick: 2")
    parser.add_argument("--speakers", type=int, help="hold out the first K speakers only (default all 5)")
    parser.add_argument("--per-speaker", type=int, help="clips kept per speaker (default all 500)")
    parser.add_argument("--seen", action="store_true", help="also the accuracy on the spec's test split")
    args = parser.parse_args(argv)
    if not os.path.isfile(SPEC):
        print(f"generalisation: skipped, {SPEC} is absent")
        return 0
    quick = QUICK if args.quick else {}
    epochs = args.epochs or quick.get("epochs")
    variants = args.variants or quick.get("variants") or list(VARIANTS)
    per_speaker = args.per_speaker or quick.get("per_speaker")
    import mmkeras

    pool = subsample(mmkeras.load_splits(mmkeras.load_spec(audio_spec(PAIRS[0], "base", split={"train": 1.0})))
                     ["train"], per_speaker)
    speakers = sorted(pool["speaker"].unique())
    held_out = speakers[:args.speakers or quick.get("speakers") or len(speakers)]
    rows = []
    for pair in args.pairs:
        for variant in variants:
            start = time.time()
            per = leave_speakers_out(audio_spec(pair, variant, epochs=epochs, split={"train": 1.0}), pool, held_out)
            row = {"pair": pair, "variant": variant, "mean": float(np.mean(list(per.values()))),
                   "min": float(min(per.values())), **per, "seconds": round(time.time() - start, 1)}
            if args.seen:
                row["seen"] = seen_accuracy(audio_spec(pair, variant, epochs=epochs), per_speaker)
            rows.append(row)
            print(f"  {pair:<16} {variant:<9} mean {row['mean']:.3f}  " +
                  "  ".join(f"{s} {a:.3f}" for s, a in per.items()) +
                  (f"  seen {row['seen']:.3f}" if args.seen else "") + f"  ({row['seconds']} s)", flush=True)
    columns = ["pair", "variant", "mean", "min", *held_out] + (["seen"] if args.seen else []) + ["seconds"]
    common.print_table(f"Leave-one-speaker-out accuracy, FSDD audio alone ({epochs or 'spec'} epochs, "
                       f"{len(pool)} clips, held out: {', '.join(held_out)})", rows, columns)
    path = common.write_result("generalisation", {
        "quick": bool(args.quick), "epochs": epochs, "per_speaker": per_speaker, "held_out": held_out,
        "variants": {v: VARIANTS[v] for v in variants}, "rows": rows})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
