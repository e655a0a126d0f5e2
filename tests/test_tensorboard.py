"""`train --tensorboard` / `training.tensorboard: true`: Keras' TensorBoard callback writes scalars, the graph and
one histogram per weight into RUN_DIR/tensorboard/."""

import glob
import json
import os

import keras
import tensorflow as tf

import mmkeras.runs.lifecycle
from mmkeras.cli import main
from mmkeras.runs.lifecycle import train_run
from mmkeras.testing import tiny_spec_dict


def _tags(folder):
    tags = set()
    for path in glob.glob(os.path.join(folder, "**", "events.out.tfevents.*"), recursive=True):
        for record in tf.data.TFRecordDataset(path):
            tags.update(v.tag for v in tf.compat.v1.Event.FromString(record.numpy()).summary.value)
    return tags


def _spec(manifest, **training):
    spec = tiny_spec_dict(manifest, jit_compile=False, **training)
    spec["inputs"] = {k: spec["inputs"][k] for k in ("reading", "colour")}
    return spec


def test_train_tensorboard_logs_scalars_graph_and_histograms(demo_manifest, tmp_path, capsys):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(_spec(demo_manifest, epochs=2)))
    run = str(tmp_path / "run")
    assert main(["train", str(spec_file), "--out", run, "--tensorboard", "--quiet"]) == 0
    assert f"tensorboard --logdir {os.path.join(run, 'tensorboard')}" in capsys.readouterr().out
    train_tags = _tags(os.path.join(run, "tensorboard", "train"))
    validation_tags = _tags(os.path.join(run, "tensorboard", "validation"))
    assert {"epoch_loss", "epoch_accuracy"} <= train_tags and {"epoch_loss", "epoch_accuracy"} <= validation_tags
    assert "keras" in train_tags                       # the model graph (TensorBoard's conceptual graph)
    histograms = {tag for tag in train_tags if tag.endswith("/histogram")}
    assert {"label/kernel/histogram", "label/bias/histogram", "fusion/dense_0/kernel/histogram",
            "colour_missing/embedding/histogram"} <= histograms


def test_the_spec_key_turns_it_on(demo_manifest, tmp_path, monkeypatch):
    seen = []

    def fake_train_model(*args, callbacks=(), **kwargs):
        seen.extend(callbacks)
        raise KeyboardInterrupt  # stop before fitting: only the callbacks matter here

    monkeypatch.setattr(mmkeras.runs.lifecycle, "train_model", fake_train_model)
    for value, expected in ((True, 1), (False, 0)):
        seen.clear()
        try:
            train_run(_spec(demo_manifest, tensorboard=value), str(tmp_path / f"run_{value}"), verbose=False)
        except KeyboardInterrupt:
            pass
        assert len([c for c in seen if isinstance(c, keras.callbacks.TensorBoard)]) == expected
