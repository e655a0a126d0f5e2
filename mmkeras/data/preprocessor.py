"""`Preprocessor`: the adapted per-input and per-output state, as TensorFlow ops."""

import json
import os

import numpy as np
import tensorflow as tf

from mmkeras.data.audio import AudioFeature
from mmkeras.data.boolean import BooleanFeature
from mmkeras.errors import DataError
from mmkeras.progress import track
from mmkeras.data.image import ImageFeature
from mmkeras.data.multi_hot import MultiHotFeature
from mmkeras.data.presence import PRESENCE, decode_or_zeros, presence_matrix
from mmkeras.data.columns import check_columns, data_root
from mmkeras.data.tabular import CategoricalFeature, NumericFeature
from mmkeras.data.targets import make_target
from mmkeras.data.text import TextFeature
from mmkeras.data.video import VideoFeature
from mmkeras.specs import load_spec

FEATURES = {
    "image": ImageFeature,
    "audio": AudioFeature,
    "text": TextFeature,
    "numeric": NumericFeature,
    "categorical": CategoricalFeature,
    "multi_hot": MultiHotFeature,
    "boolean": BooleanFeature,
    "video": VideoFeature,
}
STATE_FILE = "preprocessor.json"


class Preprocessor:
    """Turns raw inputs (file bytes, strings, numbers) into model-ready tensors.

    Adapted once on the training split (vocabularies, normalisation
    statistics, class tables); afterwards every step is a TensorFlow op, used
    both by `make_dataset` and inside the exported SavedModel.

    Two stages per input: `decode` works on one example (file bytes ->
    fixed-shape tensor) and `transform` on a batch (token lookup,
    standardisation, audio features).

    Example:

    >>> pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    >>> pre.features["caption"].vocabulary_size > 2
    True
    """

    def __init__(self, spec):
        self.spec = load_spec(spec)
        self.features = {n: FEATURES[i.type](i) for n, i in self.spec.inputs.items()}
        self.targets = {n: make_target(o) for n, o in self.spec.outputs.items()}
        self.adapted = False

    # -- adapting ---------------------------------------------------------
    def adapt(self, train_df, *, root=None):
        """Learns vocabularies, statistics and class tables from the training rows; returns self.

        Args:
            train_df: the train split, with every input and output column.
            root: folder for relative file paths (default: the spec's data root).

        Raises:
            DataError: an empty table, a missing column, a bad value or file.

        Example:

        >>> mmkeras.Preprocessor(spec).adapt(splits["train"]).targets["label"].classes[:2]
        ['circle-high-animal', 'circle-high-vehicle']
        """
        if len(train_df) == 0:
            raise DataError("Cannot adapt on an empty training table.")
        columns = [i.column for i in self.spec.inputs.values()] + [o.column for o in self.spec.outputs.values()]
        check_columns(train_df, columns, "the training table")
        raw = self.raw_columns(train_df, root=root)
        label = f"adapt the preprocessor on {len(train_df)} train rows"
        for name, feature in track(self.features.items(), len(self.features), label, unit="inputs"):
            dataset = None
            if feature.is_file:
                paths = tf.data.Dataset.from_tensor_slices((raw[name], self.contexts(train_df, name, raw[name])))
                paths = paths.filter(lambda p, c: tf.strings.length(p) > 0)  # missing inputs teach nothing
                dataset = paths.map(lambda p, c, f=feature: f.decode(f.read(p), c, training=False),
                                    num_parallel_calls=tf.data.AUTOTUNE)
            feature.adapt(raw[name], dataset)
        for name, target in self.targets.items():
            target.adapt(train_df[self.spec.outputs[name].column])
        self.adapted = True
        return self

    # -- raw columns (Python side, vectorised, once per table) -------------
    def raw_columns(self, df, *, root=None, table=""):
        """Reads the spec's input columns of `df` as numpy arrays for `tf.data`.

        Each feature's `resolve` reads its column: file columns become
        absolute paths (checked to exist), numeric columns float32 (NaN
        kept), most others strings. Bad values raise a DataError naming
        row, column and value.

        Example:

        >>> raw = pre.raw_columns(splits["test"])
        >>> sorted(raw), raw["reading"].dtype
        (['caption', 'colour', 'picture', 'reading', 'sound'], dtype('float32'))
        """
        check_columns(df, [i.column for i in self.spec.inputs.values()], table)
        root = root or data_root(self.spec)
        return {name: self.features[name].resolve(df[spec.column], root=root, table=table)
                for name, spec in self.spec.inputs.items()}

    def contexts(self, df, name, paths, table=""):
        """Per-row strings naming row, column and file, used in decode errors.

        Example:

        >>> df = splits["test"]
        >>> pre.contexts(df, "picture", pre.raw_columns(df)["picture"], "test split")[0]
        "row 0 of test split, column 'image_path', file ...png"
        """
        column = self.spec.inputs[name].column
        where = f" of {table}" if table else ""
        describe = self.features[name].describe
        return np.array([f"row {i}{where}, column '{column}', {describe(p)}" for i, p in enumerate(paths)],
                        dtype=object)

    # -- TensorFlow ops ------------------------------------------------------
    def decode_example(self, raw, contexts=None, *, training=False):
        """One example: {input: raw scalar (bytes for files)} -> {input: fixed-shape tensor}.

        `training=True` enables per-example random steps (e.g. random crops);
        serving and evaluation always use `training=False`.

        Example:

        >>> raw = {n: v[0] for n, v in pre.raw_columns(splits["test"]).items()}
        >>> raw["picture"] = tf.io.read_file(raw["picture"])
        >>> raw["sound"] = tf.io.read_file(raw["sound"])
        >>> pre.decode_example(raw)["picture"].shape
        TensorShape([32, 32, 3])
        """
        contexts = contexts or {}
        out = {n: decode_or_zeros(f, raw[n], contexts.get(n, f"input '{n}'"), training=training)
               for n, f in self.features.items()}
        if PRESENCE in raw:
            out[PRESENCE] = raw[PRESENCE]
        return out

    def transform_batch(self, decoded, *, training=False):
        """A batch: {input: decoded batch} -> {input: model-ready batch}.

        `training=True` enables augmentation (only ever in the training pipeline).

        Example:

        >>> decoded = {"caption": tf.constant(["a red bird", ""]), "reading": tf.constant([1.0, np.nan]),
        ...            "colour": tf.constant(["red", ""]), "picture": tf.zeros([2, 32, 32, 3]),
        ...            "sound": tf.zeros([2, 4000])}
        >>> pre.transform_batch(decoded)["caption"].shape
        TensorShape([2, 12])
        """
        out = {n: f.transform(decoded[n], training=training) for n, f in self.features.items()}
        if PRESENCE in decoded:
            out[PRESENCE] = decoded[PRESENCE]
        return out

    def raw_signature(self):
        """TensorSpecs of the raw serving inputs, one `[batch]` tensor per input.

        Example:

        >>> pre.raw_signature()["reading"]
        TensorSpec(shape=(None,), dtype=tf.float32, name='reading')
        """
        return {n: tf.TensorSpec([None], f.raw_dtype, name=n) for n, f in self.features.items()}

    def __call__(self, raw_batch):
        """Raw batch (bytes, strings, floats) -> model inputs and `"_presence"`; used by the export.

        Empty bytes / strings and NaN are missing inputs: presence 0, and file
        inputs are not decoded (zeros instead).

        Example:

        >>> df = splits["test"][:2]
        >>> raw = {n: np.array(v) for n, v in pre.raw_columns(df).items()}
        >>> raw["picture"] = np.array([b"", open(raw["picture"][1], "rb").read()], dtype=object)
        >>> raw["sound"] = np.array([b"", b""], dtype=object)
        >>> pre(raw)["_presence"].numpy().tolist()
        [[0.0, 0.0, 1.0, 1.0, 1.0], [1.0, 0.0, 1.0, 1.0, 1.0]]
        """
        decoded = {}
        for name, feature in self.features.items():
            values = tf.convert_to_tensor(raw_batch[name], feature.raw_dtype)
            if feature.is_file:
                values = tf.map_fn(lambda v, f=feature: decode_or_zeros(f, v, training=False), values,
                                   fn_output_signature=tf.TensorSpec(feature.decoded_shape, tf.float32))
            decoded[name] = values
        decoded[PRESENCE] = presence_matrix(self.features, raw_batch)
        return self.transform_batch(decoded)

    # -- saving ----------------------------------------------------------------
    def get_state(self):
        """The adapted state as JSON-ready dicts: {"features": {input: state}, "targets": {output: state}}.

        Example:

        >>> sorted(pre.get_state()["features"])
        ['caption', 'colour', 'picture', 'reading', 'sound']
        """
        return {
            "features": {n: f.get_state() for n, f in self.features.items()},
            "targets": {n: t.get_state() for n, t in self.targets.items()},
        }

    def save(self, directory):
        """Writes the spec and the adapted state as JSON into `directory` (`preprocessor.json`).

        Example:

        >>> pre.save(os.path.join(tmp_dir, "pre"))
        >>> os.listdir(os.path.join(tmp_dir, "pre"))
        ['preprocessor.json']
        """
        os.makedirs(directory, exist_ok=True)
        payload = {"spec": self.spec.to_dict(), "state": self.get_state()}
        with open(os.path.join(directory, STATE_FILE), "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1)

    @classmethod
    def load(cls, directory, spec=None):
        """Rebuilds an adapted Preprocessor saved with `save` (with `spec` instead of the saved one, when given).

        Example:

        >>> pre.save(os.path.join(tmp_dir, "pre"))
        >>> Preprocessor.load(os.path.join(tmp_dir, "pre")).targets["label"].classes == pre.targets["label"].classes
        True
        """
        with open(os.path.join(directory, STATE_FILE), encoding="utf-8") as f:
            payload = json.load(f)
        pre = cls(spec if spec is not None else load_spec(payload["spec"], base_dir=directory))
        for name, state in payload["state"]["features"].items():
            pre.features[name].set_state(state)
        for name, state in payload["state"]["targets"].items():
            pre.targets[name].set_state(state)
        pre.adapted = True
        return pre
