"""Image inputs with a KerasHub encoder: decoded as usual, then the preset's image converter.

An image input with `encoder: {type: kerashub, preset: ...}` is decoded to
`[height, width, channels]` in [0, 1] like every image (augmentation
included, in training only); its transform then rescales to [0, 255] and
applies the preset's `ImageConverter` (resize to the preset's `image_size`,
the family's scaling and normalisation). It runs in `tf.data` and inside
the export, never in the XLA-compiled model.
"""

import tensorflow as tf

from mmkeras.data.image import ImageFeature
from mmkeras.encoders.kerashub_presets import from_preset


class KerasHubImageFeature(ImageFeature):
    """An image input for a KerasHub backbone: bytes -> the preset converter's `[size, size, channels]`.

    Example:

    >>> from mmkeras.testing.kerashub import tiny_resnet_preset
    >>> resnet = tiny_resnet_preset(os.path.join(tmp_dir, "resnet_feature"))
    >>> s = mmkeras.specs.inputs.ImageInputSpec(name="p", type="image", column="p", height=32, width=32,
    ...     encoder=mmkeras.specs.inputs.EncoderSpec(type="kerashub", options={"preset": resnet}))
    >>> feature = mmkeras.data.image.ImageFeature(s).adapt([])
    >>> feature.shape, feature.transform(tf.ones([2, 32, 32, 3])).shape
    ((16, 16, 3), TensorShape([2, 16, 16, 3]))
    """

    def __init__(self, spec):
        super().__init__(spec)
        self.preset = spec.encoder.options.get("preset")
        self.converter = None

    def _load(self):
        self.converter = from_preset("ImageConverter", self.preset, f"inputs.{self.spec.name}.encoder.preset")
        size = self.converter.image_size or (self.spec.height, self.spec.width)
        self.shape = (int(size[0]), int(size[1]), self.spec.channels)
        self.converter(tf.zeros([1, self.spec.height, self.spec.width, self.spec.channels]))  # build eagerly
        return self

    def adapt(self, column_values, dataset=None):
        return self._load()

    def transform(self, batch, training=False):
        images = self.converter(super().transform(batch, training=training) * 255.0)
        return tf.ensure_shape(tf.cast(images, tf.float32), batch.shape[:1].concatenate(self.shape))

    def tracked_layers(self):
        return [self.converter]

    def get_state(self):
        return {"preset": self.preset}

    def set_state(self, state):
        if state.get("preset") not in (None, self.preset):
            raise ValueError(f"Input {self.spec.name!r}: the saved preprocessor used the preset "
                             f"{state['preset']!r} but the spec names {self.preset!r}")
        self._load()
