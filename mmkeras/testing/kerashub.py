"""Tiny random-weight KerasHub presets, written to a folder, so tests never download anything."""

WORDS = ["red", "blue", "cat", "dog", "a", "circle", "square", "high", "low", "animal", "vehicle", "the"]


def tiny_bert_preset(folder, *, num_layers=2, hidden_dim=16, sequence_length=8, seed=0):
    """Writes a random `BertBackbone` + `BertTokenizer` preset (vocabulary ~50) to `folder`; returns it.

    Example:

    >>> sorted(os.listdir(tiny_bert_preset(os.path.join(tmp_dir, "bert_preset"))))
    ['assets', 'config.json', 'metadata.json', 'model.weights.h5', 'tokenizer.json']
    """
    import keras  # deferred: keeps the harness import light
    import keras_hub  # deferred: optional dependency (the kerashub extra)

    keras.utils.set_random_seed(seed)
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(40)] + WORDS[:5]
    vocabulary += [w for w in WORDS[5:] if w not in vocabulary]
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    backbone = keras_hub.models.BertBackbone(vocabulary_size=len(vocabulary), num_layers=num_layers, num_heads=2,
                                             hidden_dim=hidden_dim, intermediate_dim=2 * hidden_dim,
                                             max_sequence_length=max(sequence_length, 8), dropout=0.0)
    backbone.save_to_preset(folder)
    tokenizer.save_to_preset(folder)
    return folder


def tiny_resnet_preset(folder, *, image_size=16, seed=0):
    """Writes a random one-stage `ResNetBackbone` + its `ResNetImageConverter` preset to `folder`; returns it.

    Example:

    >>> "config.json" in os.listdir(tiny_resnet_preset(os.path.join(tmp_dir, "resnet_preset")))
    True
    """
    import keras  # deferred: keeps the harness import light
    import keras_hub  # deferred: optional dependency (the kerashub extra)

    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64],
        stackwise_num_blocks=[1], stackwise_num_strides=[1], block_type="basic_block", use_pre_activation=False,
        image_shape=(image_size, image_size, 3))
    converter = keras_hub.layers.ResNetImageConverter(image_size=(image_size, image_size), scale=1 / 255.0)
    backbone.save_to_preset(folder)
    converter.save_to_preset(folder)
    return folder
