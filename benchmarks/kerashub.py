"""KerasHub encoders: the in-pipeline tokenizer against a Python loop, and frozen against fine-tuned training.

    python -m benchmarks.kerashub [--texts 4000] [--examples 512] [--layers 2] [--hidden 16] [--out FILE]

1. Tokens/s of the preset's tokenizer and packer (`TextClassifierPreprocessor`)
   run as mmkeras runs it, batched in `tf.data`, against the usual Python loop
   calling the same tokenizer once per text (eagerly). Tokens are the
   non-padding token ids produced.
2. Train examples/s of `model.fit` (XLA on, second epoch, the tokenizer in the
   pipeline) for one spec whose text input is a KerasHub backbone, frozen
   (`trainable: false`) against fine-tuned (`trainable: true`).

Everything is built from a tiny random-weight preset written to a temporary
folder (`mmkeras.testing.kerashub.tiny_bert_preset`), so nothing is
downloaded; the default sizes are small, and the numbers are ratios on this
machine.
"""

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd
import tensorflow as tf

import mmkeras
from benchmarks import common
from mmkeras.testing.kerashub import WORDS, tiny_bert_preset


def _texts(n, seed=0):
    rng = np.random.default_rng(seed)
    vocabulary = WORDS + [f"w{i}" for i in range(40)]
    return [" ".join(rng.choice(vocabulary, rng.integers(3, 30))) for _ in range(n)]


def tokenizer_rows(preset, texts, sequence_length, repeats):
    """Tokens/s of the packer in tf.data (batched) and in a Python loop (one text per call)."""
    import keras_hub  # deferred: optional dependency

    packer = keras_hub.models.TextClassifierPreprocessor.from_preset(preset, sequence_length=sequence_length)
    pad = int(getattr(packer.tokenizer, "pad_token_id", 0) or 0)

    def count(ids):
        return int(np.sum(np.asarray(ids) != pad))

    ds = tf.data.Dataset.from_tensor_slices(texts).batch(256).map(
        lambda b: packer(b)["token_ids"], num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def in_pipeline():  # the dataset is built (and its map traced) once, as a training run does
        return sum(count(batch) for batch in ds)

    def python_loop():
        return sum(count(packer(tf.constant([text]))["token_ids"]) for text in texts)

    rows = []
    for name, fn in (("tf.data (mmkeras)", in_pipeline), ("Python loop", python_loop)):
        tokens = fn()  # warm-up (traces the tf.data function)
        seconds, _ = common.median_time(fn, repeats=repeats)
        rows.append({"tokenizer": name, "texts": len(texts), "tokens": tokens, "seconds": seconds,
                     "tokens_per_s": tokens / seconds})
    for row in rows:
        row["speedup"] = row["tokens_per_s"] / rows[1]["tokens_per_s"]
    return rows


def training_rows(preset, folder, examples, sequence_length):
    """Train examples/s (second epoch) with the backbone frozen and fine-tuned."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"text": _texts(examples), "label": rng.choice(["yes", "no"], examples)})
    rows = []
    for mode, trainable in (("frozen", False), ("fine-tuned", True)):
        spec = mmkeras.load_spec({
            "spec_version": 1, "name": f"kerashub_{mode}".replace("-", "_"),
            "inputs": {"text": {"type": "text", "column": "text", "sequence_length": sequence_length,
                                "encoder": {"type": "kerashub", "preset": preset, "trainable": trainable}}},
            "outputs": {"label": {"type": "classification", "column": "label"}},
            "training": {"epochs": 2, "batch_size": 32, "jit_compile": True, "cache": "memory"}})
        pre = mmkeras.Preprocessor(spec).adapt(df)
        model = mmkeras.build_model(spec, pre)
        dataset = mmkeras.make_dataset(spec, df, pre, training=True)
        times = []

        class Timer(__import__("keras").callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.start)

        model.fit(dataset, epochs=2, verbose=0, callbacks=[Timer()])
        trainable_weights = int(sum(np.prod(w.shape) for w in model.trainable_weights))
        rows.append({"backbone": mode, "examples": examples, "trainable_params": trainable_weights,
                     "first_epoch_s": times[0], "epoch_s": times[-1], "examples_per_s": examples / times[-1]})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kerashub", description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=4000, help="texts tokenised")
    parser.add_argument("--examples", type=int, default=512, help="training examples")
    parser.add_argument("--layers", type=int, default=2, help="transformer layers of the tiny BERT")
    parser.add_argument("--hidden", type=int, default=16, help="hidden width of the tiny BERT")
    parser.add_argument("--sequence-length", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="JSON file (default benchmarks/results/kerashub.json)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        preset = tiny_bert_preset(os.path.join(folder, "bert"), num_layers=args.layers, hidden_dim=args.hidden,
                                  sequence_length=args.sequence_length)
        tokens = tokenizer_rows(preset, _texts(args.texts), args.sequence_length, args.repeats)
        training = training_rows(preset, folder, args.examples, args.sequence_length)
    common.print_table("Tokenizer: tokens/s (the preset's WordPiece + packer)", tokens,
                       ["tokenizer", "texts", "tokens", "seconds", "tokens_per_s", "speedup"])
    common.print_table("Training: examples/s, second epoch (XLA on)", training,
                       ["backbone", "examples", "trainable_params", "first_epoch_s", "epoch_s", "examples_per_s"])
    payload = {"settings": vars(args), "tokenizer": tokens, "training": training}
    if args.out:
        import json

        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"benchmark": "kerashub", "machine": common.machine(), **payload}, f, indent=1)
        path = args.out
    else:
        path = common.write_result("kerashub", payload)
    print(f"\nwrote {path}")
    return payload


if __name__ == "__main__":
    main()
