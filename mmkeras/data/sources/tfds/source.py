"""`TfdsSource`: a TensorFlow Datasets dataset as a run's source (`data: {tfds: {name, data_dir, split}}`)."""

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from mmkeras.data.pipeline import DISK_SHUFFLE_BUFFER, stages
from mmkeras.data.preprocessor import Preprocessor
from mmkeras.data.presence import PRESENCE
from mmkeras.data.sources.base import SPLITS, Source
from mmkeras.data.sources.table import fraction_split
from mmkeras.data.sources.tfds.features import (audio_rate, check_input, check_output, decode_value, nested,
                                                presence, raw_value, target_value, value_at)
from mmkeras.data.sources.tfds.serving import serving_batch
from mmkeras.data.targets import ClassTarget, NumericTarget, balanced_weights, make_target
from mmkeras.errors import DataError, SpecError
from mmkeras.specs import load_spec

# Examples per batch of the one pass over the train split that adapting reads.
SCAN_BATCH = 1024
TFDS_ID = "tfds_id"


def _not_prepared(spec, builder, detail=""):
    t = spec.data.tfds
    where = builder.data_dir if builder is not None else t.data_dir or tfds.core.constants.DATA_DIR
    found = f" ({detail})" if detail else ""
    return DataError(
        f"{spec.source or spec.name}: data.tfds: TFDS dataset {t.name!r} is not prepared in {where}{found}, and "
        f"data.tfds.download is false, so nothing is downloaded. Prepare it on a machine with a network: "
        f"`tfds build {t.name.split(':')[0]} --data_dir DIR` (or, for an mmkeras folder data set, "
        f"`mmkeras tfds build SPEC --data-dir DIR`), copy DIR here and set data.tfds.data_dir to it; "
        "or set data.tfds.download: true")


def open_builder(spec):
    """The TFDS builder of a spec's `data.tfds`, its data prepared; a DataError says where it looked and what to do.

    With `download: false` (the default) nothing touches the network: a
    dataset missing from `data_dir` (the catalog's code is installed with
    tensorflow-datasets, the data is not), or a community dataset, is an
    error telling how to prepare it. With `download: true` a missing
    dataset is downloaded and prepared into `data_dir`.

    Args:
        spec: a Spec with `data.tfds`.

    Returns:
        A `tfds.core.DatasetBuilder` whose splits can be read.

    Example:

    >>> tfds_spec = mmkeras.load_spec({**spec.to_dict(), "data": {"tfds": {"name": "mnist", "data_dir": tmp_dir}}})
    >>> open_builder(tfds_spec)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mmkeras.errors.DataError: ... 'mnist' is not prepared in .../mnist/3.0.1, and data.tfds.download is false, ...
    """
    t = spec.data.tfds
    name, _ = tfds.core.naming.parse_builder_name_kwargs(t.name)
    if name.namespace and not t.download:
        raise _not_prepared(spec, None, f"{name.namespace!r} is a community namespace: its code comes from the network")
    try:
        builder = tfds.builder(t.name, data_dir=t.data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise _not_prepared(spec, None, str(e).splitlines()[0][:200]) from None
    if t.download:
        builder.download_and_prepare()
    probe = next(iter(builder.info.splits), t.split.train)  # a split that exists (any one under mock_data)
    try:  # TFDS's own check (and the one `tfds.testing.mock_data` replaces): is the data there?
        builder.as_dataset(split=probe)
    except AssertionError as e:
        raise _not_prepared(spec, builder) from e
    return builder


class TfdsSource(Source):
    """The splits of a TFDS dataset: examples decoded by TFDS, preprocessed as files are.

    Images are decoded by TFDS after the shuffle (uint8 tensors) and go
    through the same resize and normalisation as image files
    (`ImageFeature.decode_tensor`), audio samples through the same
    cropping, resampling and features as WAV files, and so on, so the
    model sees what it would see from files, and the export (which takes
    encoded bytes) gives the same model inputs. Adapting reads the train
    split once, streaming, parsing only the non-media features (media are
    never decoded for it); audio statistics read at most
    `AudioFeature.adapt_limit` clips, as for tables. A `validation`
    fraction is carved out of the train split, stratified by the first
    classification or binary output and seeded by `training.seed`, by
    example id (so any file order or per-worker sharding keeps it).

    Args:
        spec: a Spec (or file, dict) with `data.tfds`.
        input_context: a `tf.distribute.InputContext`: in training, each
            worker reads its share of the train split's files
            (`tfds.ReadConfig(input_context=...)`); adapting, validation and
            evaluation read every example.

    Attributes:
        builder: the `tfds.core.DatasetBuilder`.
        input_features, output_features: {name: the TFDS feature it reads}.

    Example:

    >>> built = mmkeras.data.sources.tfds.build_tfds_dataset(spec, tmp_dir, name="tiny_demo", verbose=False)
    >>> source = TfdsSource(mmkeras.data.sources.tfds.tfds_spec_dict(spec, "tiny_demo", tmp_dir))
    >>> source.split_names, source.sizes() == {k: len(v) for k, v in splits.items()}
    (['train', 'validation', 'test'], True)
    """

    def __init__(self, spec, *, input_context=None):
        self.spec = load_spec(spec)
        self.builder = open_builder(self.spec)
        self.input_context = input_context
        self.name = self.spec.data.tfds.name
        features = self.builder.info.features
        self.input_features = {n: check_input(i, features, self.name) for n, i in self.spec.inputs.items()}
        self.output_features = {n: check_output(o, make_target(o), features, self.name)
                                for n, o in self.spec.outputs.items()}
        self.rates = {n: audio_rate(i, self.input_features[n], self.name)
                      for n, i in self.spec.inputs.items() if i.type == "audio"}
        split = self.spec.data.tfds.split
        self.carve = split.validation if isinstance(split.validation, float) else None
        self.tfds_splits = {k: v for k, v in (("train", split.train), ("validation", split.validation),
                                              ("test", split.test)) if isinstance(v, str)}
        self.split_names = [k for k in SPLITS if k in self.tfds_splits or (k == "validation" and self.carve)]
        self._check_splits()
        self._scan = None

    @property
    def description(self):
        """"the TFDS dataset NAME" (see `Source.description`)."""
        return f"the TFDS dataset {self.name}"

    def files(self, split):
        """Number of files (TFDS shards, or parts of them for a sliced split) that a split reads.

        Example:

        >>> tfds_dir = os.path.join(tmp_dir, "tfds")
        >>> _ = mmkeras.data.sources.tfds.build_tfds_dataset(spec, tfds_dir, name="tiny_demo", verbose=False)
        >>> TfdsSource(mmkeras.data.sources.tfds.tfds_spec_dict(spec, "tiny_demo", tfds_dir)).files("train")
        1
        """
        self.check_split(split)
        tfds_split = self.tfds_splits["train" if self.carve is not None and split == "validation" else split]
        return len(self.builder.info.splits[tfds_split].file_instructions)

    def _check_splits(self):
        known = self.builder.info.splits
        if not len(known):  # `tfds.testing.mock_data` without metadata: any split is accepted
            return
        for key, value in self.tfds_splits.items():
            try:
                known[value]
            except (KeyError, ValueError, AssertionError) as e:
                raise SpecError(f"{self.spec.source or self.spec.name}: data.tfds.split.{key}: {value!r} is not a "
                                f"split of {self.name} ({str(e).splitlines()[0][:150]}); its splits: "
                                f"{', '.join(known)} (TFDS slicing such as 'train[:90%]' works)") from None

    # -- reading ------------------------------------------------------------------------
    def read(self, split, *, training=False, decoders=None):
        """A split as TFDS yields it: dicts of features and `"tfds_id"` (carved splits filtered by id).

        Args:
            split: "train", "validation" or "test".
            training: shuffle the files (seeded by `training.seed`).
            decoders: TFDS `decoders` (`SkipDecoding`, `PartialDecoding`).
        """
        self.check_split(split)
        carved = self.carve is not None and split in ("train", "validation")
        ds = self._read(self.tfds_splits["train" if carved else split], training=training, decoders=decoders)
        if carved:
            table, keep = self._carved_ids(), tf.constant(1 if split == "validation" else 0, tf.int64)
            ds = ds.filter(lambda ex: tf.equal(table.lookup(ex[TFDS_ID]), keep))
        return ds

    def _read(self, tfds_split, *, training=False, decoders=None):
        config = tfds.ReadConfig(shuffle_seed=self.spec.training.seed, add_tfds_id=True,
                                 input_context=self.input_context if training else None)
        ordered = bool(self.builder.info.disable_shuffling)  # TFDS refuses to shuffle an ordered dataset's files
        return self.builder.as_dataset(split=tfds_split, shuffle_files=training and not ordered, decoders=decoders,
                                       read_config=config)

    def media_decoders(self, names=None):
        """SkipDecoding for image and video inputs: they are decoded after the shuffle (`decode_value`)."""
        skip = {i.column: tfds.decode.SkipDecoding() for n, i in self.spec.inputs.items()
                if i.type in ("image", "video") and (names is None or n in names)}
        return nested(skip) or None

    # -- the one pass over the train split -------------------------------------------------
    def _needs_scan(self):
        return (self.carve is not None or any(not i.is_file for i in self.spec.inputs.values())
                or any(o.class_weight == "balanced" or not isinstance(make_target(o), ClassTarget)
                       for o in self.spec.outputs.values()))

    def scan(self):
        """One streaming pass over the TFDS train split: ids and the values adapting needs (cached).

        Only non-media inputs and outputs are parsed (`PartialDecoding`);
        images, audio and video are not read into memory.

        Returns:
            {"ids": str ids, "inputs": {input: raw values}, "outputs": {output: values}}, numpy,
            for every example of the TFDS train split (before any carving).
        """
        if self._scan is None:
            spec = self.spec
            inputs = {n: i for n, i in spec.inputs.items() if not i.is_file}
            keys = [i.column for i in inputs.values()] + [o.column for o in spec.outputs.values()]
            decoders = tfds.decode.PartialDecoding(nested({k: True for k in keys})) if keys else None

            def columns(ex):
                raw = {n: raw_value(i, self.input_features[n], value_at(ex, i.column)) for n, i in inputs.items()}
                return ex[TFDS_ID], raw, {n: value_at(ex, o.column) for n, o in spec.outputs.items()}

            parts = [batch for batch in self._read(self.tfds_splits["train"], decoders=decoders)
                     .map(columns, num_parallel_calls=tf.data.AUTOTUNE).batch(SCAN_BATCH).as_numpy_iterator()]
            if not parts:
                raise DataError(f"{self.name}: the train split {self.tfds_splits['train']!r} has no examples")
            self._scan = {"ids": np.concatenate([p[0] for p in parts]),
                          "inputs": {n: _text(np.concatenate([p[1][n] for p in parts])) for n in inputs},
                          "outputs": {n: np.concatenate([p[2][n] for p in parts]) for n in spec.outputs}}
        return self._scan

    def _kept(self):
        """(indices of the scanned examples kept for training, indices carved out for validation)."""
        n = len(self.scan()["ids"])
        if self.carve is None:
            return np.arange(n), np.arange(0)
        labels = next((self.scan()["outputs"][n] for n, o in self.spec.outputs.items()
                       if isinstance(make_target(o), ClassTarget)), None)
        keep, carved = fraction_split(np.arange(n), labels, [1 - self.carve, self.carve], self.spec.training.seed)
        if not len(keep) or not len(carved):
            raise DataError(f"{self.name}: data.tfds.split.validation: {self.carve} of the {n} train examples "
                            "leaves an empty train or validation split")
        return keep, carved

    def _carved_ids(self):
        _, carved = self._kept()
        ids = self.scan()["ids"][carved]
        return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant(ids, tf.string), tf.ones([len(ids)], tf.int64)), default_value=0)

    # -- Source ------------------------------------------------------------------------
    def sizes(self):
        """{split: examples}: from the dataset's info (or by counting); carved splits from the scan."""
        out = {}
        for split in self.split_names:
            if self.carve is not None and split in ("train", "validation"):
                keep, carved = self._kept()
                out[split] = len(keep if split == "train" else carved)
            else:
                out[split] = self._count(self.tfds_splits[split])
        return out

    def _count(self, tfds_split):
        if len(self.builder.info.splits):
            return int(self.builder.info.splits[tfds_split].num_examples)
        count = int(self._read(tfds_split).cardinality())
        if count < 0:
            count = int(self._read(tfds_split).reduce(0, lambda n, _: n + 1))
        return count

    def preprocessor(self):
        """A new Preprocessor adapted on the train split (streaming: see the class docstring).

        Example:

        >>> tfds_dir = os.path.join(tmp_dir, "tfds")
        >>> _ = mmkeras.data.sources.tfds.build_tfds_dataset(spec, tfds_dir, name="tiny_demo", verbose=False)
        >>> tfds_pre = TfdsSource(mmkeras.data.sources.tfds.tfds_spec_dict(spec, "tiny_demo", tfds_dir)).preprocessor()
        >>> tfds_pre.get_state() == pre.get_state()
        True
        """
        self.check_split("train")
        pre = Preprocessor(self.spec)
        scanned = self._needs_scan()
        keep = self._kept()[0] if scanned else None
        for name, feature in pre.features.items():
            if feature.is_file:
                feature.adapt(None, self._decoded(pre, name))
            else:
                feature.adapt(self.scan()["inputs"][name][keep])
        for name, target in pre.targets.items():
            values = self.scan()["outputs"][name][keep] if scanned else None
            adapt_target(target, self.output_features[name], values)
        pre.adapted = True
        return pre

    def _decoded(self, pre, name):
        """The train split's decoded examples of one media input (what `Feature.adapt` takes for files)."""
        feature, tfds_feature, column = pre.features[name], self.input_features[name], self.spec.inputs[name].column
        decoders = tfds.decode.PartialDecoding(nested({column: True}), decoders=self.media_decoders([name]))
        return self.read("train", decoders=decoders).map(
            lambda ex: decode_value(feature, tfds_feature, value_at(ex, column), f"input '{name}'",
                                    rate=self.rates.get(name)), num_parallel_calls=tf.data.AUTOTUNE)

    def examples(self, split, preprocessor, *, training=False, with_targets=True):
        """A split as single examples `(raw, contexts, targets)`, what `pipeline.stages` takes (media undecoded)."""
        pre, spec, where = preprocessor, self.spec, f" of {self.name} {self.tfds_splits.get(split, split)}"
        balanced = any(o.class_weight == "balanced" for o in spec.outputs.values())

        def example(ex):
            named = tf.strings.join(["example ", ex[TFDS_ID], where])
            raw = {n: raw_value(i, self.input_features[n], value_at(ex, i.column)) for n, i in spec.inputs.items()}
            raw[PRESENCE] = presence(pre.features, raw)
            contexts = {n: tf.strings.join([f"input '{n}', ", named]) for n, f in pre.features.items() if f.is_file}
            targets = {}
            if with_targets:
                pairs = {n: target_value(t, self.output_features[n], value_at(ex, spec.outputs[n].column), named)
                         for n, t in pre.targets.items()}
                targets = {n: y for n, (y, _) in pairs.items()}
                if balanced:
                    targets = (targets, {n: w for n, (_, w) in pairs.items()})
            return raw, contexts, targets

        return self.read(split, training=training, decoders=self.media_decoders()).map(
            example, num_parallel_calls=tf.data.AUTOTUNE)

    def decoder(self, preprocessor):
        """The per-example decode `pipeline.stages` runs on these examples (`decode_value` for each input)."""
        def decode_example(raw, contexts=None, *, training=False):
            contexts = contexts or {}
            out = {n: decode_value(f, self.input_features[n], raw[n], contexts.get(n, f"input '{n}'"),
                                   training=training, rate=self.rates.get(n))
                   for n, f in preprocessor.features.items()}
            out[PRESENCE] = raw[PRESENCE]
            return out

        return decode_example

    def dataset(self, split, preprocessor, *, training=False, with_targets=True, batch_size=None):
        """A split through `pipeline.stages`: shuffled (encoded media in the buffer), decoded, batched, transformed.

        Example:

        >>> tfds_dir = os.path.join(tmp_dir, "tfds")
        >>> _ = mmkeras.data.sources.tfds.build_tfds_dataset(spec, tfds_dir, name="tiny_demo", verbose=False)
        >>> source = TfdsSource(mmkeras.data.sources.tfds.tfds_spec_dict(spec, "tiny_demo", tfds_dir))
        >>> inputs, targets = next(iter(source.dataset("test", pre, batch_size=4)))
        >>> inputs["picture"].shape, sorted(targets)
        (TensorShape([4, 32, 32, 3]), ['label'])
        """
        self.check_split(split)
        t = self.spec.training
        batch_size = batch_size or t.batch_size
        count = self.sizes()[split]
        examples = self.examples(split, preprocessor, training=training, with_targets=with_targets)
        return stages(examples, preprocessor, batch_size=batch_size, training=training,
                      drop_remainder=training and count >= batch_size, read=False,
                      shuffle_buffer=min(count, DISK_SHUFFLE_BUFFER) if training else 0, seed=t.seed,
                      cache=t.cache, with_targets=with_targets, deterministic=t.deterministic or not training,
                      decode_example=self.decoder(preprocessor))

    def serving_batch(self, split, count=None):
        """(raw serving inputs, outputs) of the first `count` examples of a split: see `serving.serving_batch`."""
        return serving_batch(self, split, count)


def _text(values):
    """Scanned values as the table path reads them: str for strings, float32 numbers as they are."""
    if values.dtype.kind in "OSa":
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values], dtype=object)
    return values


def adapt_target(target, feature, values=None):
    """Adapts an output's target encoder from its TFDS feature and (when scanned) its train values.

    Class targets take the `ClassLabel` names in their order (binary: the
    `positive` class last), and class weights from the counts when values
    are given; numeric targets adapt on the values.

    Example:

    >>> target = mmkeras.data.targets.make_target(spec.outputs["label"])
    >>> adapt_target(target, tfds.features.ClassLabel(names=["b", "a"]), np.array([0, 0, 1]))
    >>> target.classes, target.class_weights
    (['b', 'a'], [0.75, 1.5])
    """
    if isinstance(target, ClassTarget):
        classes = target.check_classes(list(feature.names))
        state = {"classes": classes}
        if values is not None:
            counts = dict(zip(feature.names, np.bincount(np.asarray(values, np.int64), minlength=len(feature.names))))
            state["class_weights"] = balanced_weights([int(counts[c]) for c in classes])
        target.set_state(state)
    elif isinstance(target, NumericTarget):
        target.adapt(values)
