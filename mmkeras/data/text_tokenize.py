"""Text standardisation and tokenisation as TensorFlow string ops.

The functions here are the `standardize` and `split` callables that
`mmkeras.data.text.TextFeature` hands to Keras' `TextVectorization`. They
are plain TensorFlow ops (regular expressions, ragged tensors, no Python per
example), so they run in `tf.data` and are traced into the exported
SavedModel. A spec names them by string (`STANDARDIZERS`, `TOKENIZERS`), so
a saved preprocessor is rebuilt from JSON.

Tokenizers:

* `cjk` (the default): Chinese, Japanese and Korean characters become one
  token each; every other run of text is split on whitespace, so Latin words
  stay whole. For text without CJK characters it equals `whitespace`.
* `cjk_bigram`: as `cjk`, but a run of two or more CJK characters gives its
  overlapping character bigrams ("酒店很好" -> "酒店", "店很", "很好"); a lone
  CJK character stays a unigram.
* `whitespace`: split on (Unicode) whitespace.
* `character`: every non-space character is a token.
"""

import tensorflow as tf

# Scripts written without spaces between words. The prolonged sound mark
# U+30FC belongs to no script but only occurs inside Japanese kana runs.
CJK_CLASS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\x{30FC}"
# Unicode punctuation plus the ASCII set Keras' `TextVectorization` strips
# (which includes symbols such as $ + < = > ^ ` | ~).
PUNCTUATION = r"""[\p{P}!"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~']"""
WHITESPACE = r"[\s\p{Z}]+"

STANDARDIZERS = ("lower_and_strip_punctuation", "lower", "strip_punctuation", "none")
TOKENIZERS = ("cjk", "cjk_bigram", "whitespace", "character")


def fold_width(texts):
    """Maps full-width ASCII forms (U+FF01-U+FF5E, e.g. "Ｈｅｌｌｏ２") to ASCII.

    Chinese and Japanese text often writes Latin letters and digits in their
    full-width forms; folding them makes "２Ｍ" and "2M" the same token.

    Args:
        texts: a string tensor of any shape.

    Returns:
        A string tensor of the same shape.

    Example:

    >>> fold_width(tf.constant(["Ｈｅｌｌｏ２"])).numpy()[0].decode()
    'Hello2'
    """
    codes = tf.strings.unicode_decode(texts, "UTF-8", errors="replace")
    folded = tf.ragged.map_flat_values(
        lambda c: tf.where((c >= 0xFF01) & (c <= 0xFF5E), c - 0xFEE0, c), codes)
    return tf.strings.unicode_encode(folded, "UTF-8")


def lower(texts):
    """Unicode lower-casing (after `fold_width`); "ÉCOLE" -> "école".

    Example:

    >>> lower(tf.constant(["ÉCOLE Ｈｉ"])).numpy()[0].decode()
    'école hi'
    """
    return tf.strings.lower(fold_width(texts), encoding="utf-8")


def _strip(texts):
    # Punctuation after a CJK character ends the run ("好，服" -> "好 服", so no
    # bigram spans it); elsewhere it is removed, as Keras does ("don't" -> "dont").
    texts = tf.strings.regex_replace(texts, f"([{CJK_CLASS}]){PUNCTUATION}+", r"\1 ")
    return tf.strings.regex_replace(texts, PUNCTUATION, "")


def strip_punctuation(texts):
    """Removes Unicode punctuation and Keras' ASCII punctuation set (after `fold_width`).

    Example:

    >>> strip_punctuation(tf.constant(["Hi, 酒店很好！"])).numpy()[0].decode()
    'Hi 酒店很好 '
    """
    return _strip(fold_width(texts))


def lower_and_strip_punctuation(texts):
    """`lower`, then `strip_punctuation`; the default standardisation.

    Example:

    >>> lower_and_strip_punctuation(tf.constant(["ÉCOLE, 酒店!"])).numpy()[0].decode()
    'école 酒店 '
    """
    return _strip(lower(texts))


def standardizer(name):
    """The `standardize` callable for a spec's `standardize` option (None for "none").

    Args:
        name: one of `STANDARDIZERS`.

    Returns:
        A function from a string tensor to a string tensor of the same shape, or None.

    Example:

    >>> standardizer("lower")(tf.constant(["Ｈｅｌｌｏ World"])).numpy()
    array([b'hello world'], dtype=object)
    """
    functions = {"lower_and_strip_punctuation": lower_and_strip_punctuation, "lower": lower,
                 "strip_punctuation": strip_punctuation, "none": None}
    if name not in functions:
        raise ValueError(f"standardize must be one of {', '.join(STANDARDIZERS)}; received {name!r}")
    return functions[name]


def split_whitespace(texts):
    """`[batch]` strings -> ragged `[batch, None]` tokens, split on any Unicode whitespace.

    Example:

    >>> [token.decode() for token in split_whitespace(tf.constant(["hi 酒店很好 ok"])).to_list()[0]]
    ['hi', '酒店很好', 'ok']
    """
    return tf.strings.split(tf.strings.regex_replace(texts, WHITESPACE, " "))


def split_cjk(texts):
    """Each CJK character its own token, other runs split on whitespace.

    Example:

    >>> [token.decode() for token in split_cjk(tf.constant(["hi 酒店很好 ok"])).to_list()[0]]
    ['hi', '酒', '店', '很', '好', 'ok']
    """
    return split_whitespace(tf.strings.regex_replace(texts, f"([{CJK_CLASS}])", r" \1 "))


def split_characters(texts):
    """Every non-whitespace character (code point) a token.

    Example:

    >>> [token.decode() for token in split_characters(tf.constant(["hi 酒店很好 ok"])).to_list()[0]]
    ['h', 'i', '酒', '店', '很', '好', 'o', 'k']
    """
    chars = tf.strings.unicode_split(texts, "UTF-8", errors="replace")
    return tf.ragged.boolean_mask(chars, tf.logical_not(tf.strings.regex_full_match(chars, WHITESPACE)))


def _shift_left(x, fill):
    return tf.concat([x, tf.constant([fill], x.dtype)], 0)[1:]


def _shift_right(x, fill):
    return tf.concat([tf.constant([fill], x.dtype), x], 0)[:-1]


def split_cjk_bigrams(texts):
    """As `split_cjk`, then overlapping bigrams inside each run of CJK characters.

    A run is a stretch of CJK characters with no space (nor punctuation, with
    the default standardisation) in between. A CJK character followed by
    another of its run becomes the pair; the last character of a run is
    dropped (it is in the previous pair) unless the run has length one.
    Non-CJK tokens are kept as they are.

    Example:

    >>> [token.decode() for token in split_cjk_bigrams(tf.constant(["hi 酒店很好 ok"])).to_list()[0]]
    ['hi', '酒店', '店很', '很好', 'ok']
    """
    words = split_whitespace(texts)                       # [batch, words]
    pieces = tf.strings.split(tf.strings.regex_replace(words.flat_values, f"([{CJK_CLASS}])", r" \1 "))
    flat, word_of = pieces.flat_values, pieces.value_rowids()  # tokens, and the word each came from
    is_cjk = tf.strings.regex_full_match(flat, f"[{CJK_CLASS}]")
    # Neighbours in the flat token list (length-preserving shifts, also for no tokens at all).
    starts_pair = is_cjk & _shift_left(is_cjk, False) & tf.equal(_shift_left(word_of, -1), word_of)
    ends_pair = _shift_right(starts_pair, False)  # a CJK character right after another of its run
    out = tf.where(starts_pair, tf.strings.join([flat, _shift_left(flat, "")]), flat)
    keep = starts_pair | tf.logical_not(ends_pair)
    rows = tf.gather(words.value_rowids(), word_of)
    return tf.RaggedTensor.from_value_rowids(tf.boolean_mask(out, keep), tf.boolean_mask(rows, keep),
                                             nrows=words.nrows())


def splitter(name):
    """The `split` callable for a spec's `tokenizer` option.

    Args:
        name: one of `TOKENIZERS`.

    Returns:
        A function from `[batch]` strings to ragged `[batch, None]` tokens.

    Example:

    >>> [t.decode() for t in splitter("cjk")(tf.constant(["酒店很好 nice hotel"]))[0].numpy()]
    ['酒', '店', '很', '好', 'nice', 'hotel']
    """
    functions = {"cjk": split_cjk, "cjk_bigram": split_cjk_bigrams, "whitespace": split_whitespace,
                 "character": split_characters}
    if name not in functions:
        raise ValueError(f"tokenizer must be one of {', '.join(TOKENIZERS)}; received {name!r}")
    return functions[name]


def tokenize(texts, *, standardize="lower_and_strip_punctuation", tokenizer="cjk"):
    """Standardises and splits texts the way a text input with these options does.

    Args:
        texts: a list or `[batch]` string tensor.
        standardize: one of `STANDARDIZERS`.
        tokenizer: one of `TOKENIZERS`.

    Returns:
        A ragged `[batch, None]` string tensor of tokens (before n-grams and
        the vocabulary lookup).

    Example:

    >>> [t.decode() for t in tokenize(["The iPhone 很好!"], tokenizer="cjk_bigram")[0].numpy()]
    ['the', 'iphone', '很好']
    """
    texts = tf.convert_to_tensor(texts, tf.string)
    function = standardizer(standardize)
    if function is not None:
        texts = function(texts)
    return splitter(tokenizer)(texts)
