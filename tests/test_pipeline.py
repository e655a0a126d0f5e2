"""Preprocessor + make_dataset end to end on the demo data (PNG + WAV + CSV)."""

import os
import shutil

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.data.checks import explain_op_error, find_bad_file
from mmkeras.data.preprocessor import Preprocessor
from mmkeras.demo.data import demo_spec_dict, make_demo_data

NUM_EXAMPLES = 48


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    manifest = make_demo_data(folder, num_examples=NUM_EXAMPLES, seed=0)
    spec = mmkeras.load_spec(demo_spec_dict(manifest))
    splits = mmkeras.load_splits(spec)
    pre = Preprocessor(spec).adapt(splits["train"])
    return {"folder": str(folder), "manifest": manifest, "spec": spec, "splits": splits, "pre": pre}


@pytest.fixture()
def broken_copy(demo, tmp_path):
    """A copy of the demo folder (to damage), with a spec, test table and preprocessor for it."""
    folder = tmp_path / "demo"
    shutil.copytree(demo["folder"], folder)
    spec = demo["spec"].with_data(path=str(folder / "manifest.csv"))
    test = mmkeras.load_splits(spec)["test"]
    demo["pre"].save(str(tmp_path / "pre"))
    pre = Preprocessor.load(str(tmp_path / "pre"), spec=spec)  # its files are in the copy
    return spec, test, str(folder), pre


def batches(ds):
    return [(
        {k: v.numpy() for k, v in x.items()},
        {k: v.numpy() for k, v in y.items()},
    ) for x, y in ds]


def test_splits_of_demo_data(demo):
    splits = demo["splits"]
    assert len(splits["train"]) + len(splits["validation"]) + len(splits["test"]) == NUM_EXAMPLES
    for part in splits.values():
        assert set(part["label"]) == set(demo["pre"].targets["label"].classes)


def test_adapted_state(demo):
    pre = demo["pre"]
    assert pre.adapted
    assert pre.targets["label"].classes == sorted(pd.read_csv(demo["manifest"])["label"].unique())
    assert pre.features["caption"].vocabulary_size > 2
    assert pre.features["colour"].vocabulary_size == 9  # 8 colours + OOV
    sound = pre.features["sound"]
    assert sound.shape == (1 + 4000 // 64, 32)
    assert np.all(sound.std > 1e-3) and sound.mean.shape == (32,)
    train = demo["splits"]["train"]["reading"]
    assert pre.features["reading"].mean == pytest.approx(float(train.mean()))


def test_batch_shapes_and_dtypes(demo):
    pre, spec = demo["pre"], demo["spec"]
    ds = mmkeras.make_dataset(spec, demo["splits"]["validation"], pre, batch_size=4, table="validation")
    x, y = next(iter(ds))
    assert set(x) == set(pre.features) | {"_presence"}
    assert tuple(x["_presence"].shape) == (4, len(pre.features)) and x["_presence"].dtype == tf.float32
    for name, feature in pre.features.items():
        assert tuple(x[name].shape) == (4,) + tuple(feature.shape), name
        assert x[name].dtype == tf.as_dtype(feature.dtype), name
    assert tuple(y["label"].shape) == (4,) and y["label"].dtype == tf.int32
    assert x["picture"].numpy().min() >= 0.0 and x["picture"].numpy().max() <= 1.0
    assert np.isfinite(x["reading"].numpy()).all()  # NaN readings are imputed
    # Without targets (a table with no label column): inputs only.
    only = mmkeras.make_dataset(spec, demo["splits"]["validation"].drop(columns=["label"]), pre, batch_size=4)
    assert set(next(iter(only))) == set(pre.features) | {"_presence"}


def test_training_drops_remainder_with_static_batch(demo):
    pre, spec, train = demo["pre"], demo["spec"], demo["splits"]["train"]
    ds = mmkeras.make_dataset(spec, train, pre, training=True, batch_size=5)
    sizes = [x["picture"].shape[0] for x, _ in ds]
    assert sizes == [5] * (len(train) // 5)
    assert tuple(ds.element_spec[1]["label"].shape) == (5,)
    # Evaluation keeps every row; the batch dimension is dynamic.
    eval_ds = mmkeras.make_dataset(spec, train, pre, training=False, batch_size=5)
    assert eval_ds.element_spec[0]["picture"].shape[0] is None
    assert sum(x["picture"].shape[0] for x, _ in eval_ds) == len(train)
    # Every input has the static shape [5, *feature.shape] in training.
    wrong = {name: tuple(ds.element_spec[0][name].shape) for name, feature in pre.features.items()
             if tuple(ds.element_spec[0][name].shape) != (5,) + tuple(feature.shape)}
    assert not wrong, f"inputs without the static training batch shape: {wrong}"


def test_evaluation_order_and_targets(demo):
    pre, spec, val = demo["pre"], demo["spec"], demo["splits"]["validation"]
    got = batches(mmkeras.make_dataset(spec, val, pre, batch_size=3))
    labels = np.concatenate([y["label"] for _, y in got])
    np.testing.assert_array_equal(labels, pre.targets["label"].encode(val["label"]))
    # Row 0's picture is the PNG of row 0.
    first = tf.io.decode_png(tf.io.read_file(os.path.join(demo["folder"], val["image_path"][0]))).numpy()
    np.testing.assert_allclose(got[0][0]["picture"][0], first / 255.0, atol=1e-6)


def test_serving_call_matches_dataset(demo):
    pre, spec, val = demo["pre"], demo["spec"], demo["splits"]["validation"].iloc[:3]
    (x, _), = batches(mmkeras.make_dataset(spec, val, pre, batch_size=3))
    raw = pre.raw_columns(val)
    served = pre({
        "picture": [tf.io.read_file(p) for p in raw["picture"]],
        "sound": [tf.io.read_file(p) for p in raw["sound"]],
        "caption": raw["caption"], "reading": raw["reading"], "colour": raw["colour"],
    })
    for name in pre.features:
        np.testing.assert_allclose(served[name].numpy(), x[name], rtol=1e-5, atol=1e-5, err_msg=name)


def test_save_load_round_trip(demo, tmp_path):
    pre, spec, val = demo["pre"], demo["spec"], demo["splits"]["validation"]
    pre.save(str(tmp_path / "pre"))
    loaded = Preprocessor.load(str(tmp_path / "pre"))
    assert loaded.adapted
    assert loaded.get_state() == pre.get_state()
    assert loaded.spec.to_dict() == spec.to_dict()
    a = batches(mmkeras.make_dataset(spec, val, pre, batch_size=4))
    b = batches(mmkeras.make_dataset(loaded.spec, val, loaded, batch_size=4))
    assert len(a) == len(b) == 2
    for (xa, ya), (xb, yb) in zip(a, b):
        for name in xa:
            np.testing.assert_array_equal(xa[name], xb[name], err_msg=name)
        np.testing.assert_array_equal(ya["label"], yb["label"])


def test_missing_file_names_row_column_and_path(demo):
    df = demo["splits"]["test"].copy()
    df.loc[2, "image_path"] = "images/no_such_file.png"
    with pytest.raises(mmkeras.DataError) as info:
        mmkeras.make_dataset(demo["spec"], df, demo["pre"], table="test.csv")
    message = str(info.value)
    assert "Row 2" in message and "test.csv" in message and "'image_path'" in message
    assert os.path.join(demo["folder"], "images", "no_such_file.png") in message


@pytest.mark.parametrize("empty", ["", np.nan])
def test_empty_path_is_a_missing_input(demo, empty):
    df = demo["splits"]["test"].copy().head(4)
    df["audio_path"] = df["audio_path"].astype(object)
    df.loc[1, "audio_path"] = empty
    batch = next(iter(mmkeras.make_dataset(demo["spec"], df, demo["pre"], table="t", with_targets=False)))
    sound = list(demo["spec"].inputs).index("sound")
    np.testing.assert_array_equal(batch["_presence"].numpy()[:, sound], [1, 0, 1, 1])


def test_non_numeric_value_names_row_and_column(demo):
    df = demo["splits"]["test"].copy()
    df["reading"] = df["reading"].astype(object)
    df.loc[3, "reading"] = "12,5"
    with pytest.raises(mmkeras.DataError, match=r"Row 3 of t, column 'reading': '12,5' is not a number"):
        mmkeras.make_dataset(demo["spec"], df, demo["pre"], table="t")


def test_missing_column_is_a_data_error(demo):
    df = demo["splits"]["test"].drop(columns=["colour_name"])
    with pytest.raises(mmkeras.DataError, match="colour_name"):
        mmkeras.make_dataset(demo["spec"], df, demo["pre"], table="t")


def test_not_adapted_is_a_value_error(demo):
    with pytest.raises(ValueError, match="adapt"):
        mmkeras.make_dataset(demo["spec"], demo["splits"]["test"], Preprocessor(demo["spec"]))


def iterate_error(ds):
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        for _ in ds:
            pass
    return info.value


def test_garbage_image_error_names_row_and_file(demo, broken_copy):
    spec, test, folder, pre = broken_copy
    row = 5
    path = os.path.join(folder, test["image_path"][row])
    with open(path, "wb") as f:
        f.write(b"this is not a png at all" * 4)
    ds = mmkeras.make_dataset(spec, test, pre, batch_size=4, table="t")

    explained = explain_op_error(iterate_error(ds), pre, [("t", test)])
    assert isinstance(explained, mmkeras.DataError)
    assert f"row {row} of t" in str(explained) and path in str(explained)

    # Found without the tables too (the message itself names the row), every time.
    for attempt in range(10):
        error = iterate_error(ds)
        assert f"row {row} of t" in error.message and path in error.message, (
            f"attempt {attempt}: {error.message[:400]}")
        explained = explain_op_error(error)
        assert f"row {row} of t" in str(explained) and path in str(explained)


def test_explained_error_message_is_clean():
    """The DataError reads `row 5 of t, column 'image_path', file ...: Not a PNG ...`.

    Fails while the graph-mode Assert text leaks into it: quotes stay
    escaped (column \\'image_path\\') and the reason ends in `...file type):] [`.
    The message below is what a failed check_image_bytes Assert in tf.data says.
    """
    path = "/data/demo/images/00028.png"
    message = ("Error in user-defined function passed to ParallelMapDatasetV2:3 transformation with iterator: "
               "Iterator::Root::ParallelMapV2: assertion failed: "
               "[Not a PNG, JPEG, GIF or BMP image (corrupt or wrong file type):] "
               f"[row 5 of t, column \\'image_path\\', file {path}]\n\t [[{{{{node check_image_bytes/Assert}}}}]] "
               "[Op:IteratorGetNext] name: ")
    explained = explain_op_error(tf.errors.InvalidArgumentError(None, None, message))
    assert isinstance(explained, mmkeras.DataError)
    text = str(explained)
    assert "row 5 of t" in text and path in text and "Not a PNG" in text
    assert text.startswith(f"row 5 of t, column 'image_path', file {path}: Not a PNG"), text
    assert "] [" not in text, text


def test_truncated_png_found_by_explain_op_error(demo, broken_copy):
    spec, test, folder, pre = broken_copy
    row = 2
    path = os.path.join(folder, test["image_path"][row])
    with open(path, "rb") as f:
        head = f.read(60)
    with open(path, "wb") as f:
        f.write(head)  # a valid PNG signature, then nothing
    error = iterate_error(mmkeras.make_dataset(spec, test, pre, batch_size=4, table="t"))
    explained = explain_op_error(error, pre, [("t", test)])
    assert isinstance(explained, mmkeras.DataError)
    assert f"row {row} of t" in str(explained) and path in str(explained)
    assert find_bad_file(pre, test, table="t").startswith(f"Cannot decode row {row} of t")


def test_wrong_sample_rate_names_row_and_file(demo, broken_copy):
    spec, test, folder, pre = broken_copy
    row = 4
    path = os.path.join(folder, test["audio_path"][row])
    tf.io.write_file(path, tf.audio.encode_wav(tf.zeros([1600, 1]), 16000))
    error = iterate_error(mmkeras.make_dataset(spec, test, pre, batch_size=4, table="t"))
    assert "resampling" in error.message and f"row {row} of t" in error.message and path in error.message
    explained = explain_op_error(error, pre, [("t", test)])
    assert f"row {row} of t" in str(explained) and path in str(explained)


def test_default_root_is_the_given_specs(demo, broken_copy):
    """`make_dataset(spec, ...)` reads relative paths from `spec`'s data root by default.

    Fails while it uses the preprocessor's spec instead: a preprocessor
    adapted on one folder then reads another table's files from that folder.
    """
    spec, test, folder, _ = broken_copy
    row = 1
    tf.io.write_file(os.path.join(folder, test["image_path"][row]),
                     tf.io.encode_png(tf.fill([32, 32, 3], tf.constant(255, tf.uint8))))
    explicit = batches(mmkeras.make_dataset(spec, test, demo["pre"], batch_size=8, root=folder))
    np.testing.assert_allclose(explicit[0][0]["picture"][row], 1.0)
    default = batches(mmkeras.make_dataset(spec, test, demo["pre"], batch_size=8))
    np.testing.assert_allclose(default[0][0]["picture"][row], 1.0,
                               err_msg="make_dataset read the file from the preprocessor's folder")
