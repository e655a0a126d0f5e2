"""Text options: standardize, tokenizer (CJK), ngrams; state, export and the Chinese spec."""

import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.data import text_tokenize
from mmkeras.data.text import TextFeature
from mmkeras.specs import SpecError, load_spec
from mmkeras.specs.schema import TextInputSpec
from mmkeras.testing import three_ways

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared")
CHNSENTICORP = os.path.join(SHARED, "data", "text_zh", "chnsenticorp_htl_all", "manifest.csv")

MIXED = ["酒店很好，服务不错!iPhone 很好用。", "ok,很好 Don't", "", "ひらがなカナ 한국어 text", "ＡＢＣ２　房间"]


def tokens(texts, **options):
    return [[t.decode() for t in row] for row in text_tokenize.tokenize(texts, **options).to_list()]


def text_spec(**options):
    raw = {"spec_version": 1, "name": "t",
           "inputs": {"review": {"type": "text", "column": "text", **options}},
           "outputs": {"y": {"type": "classification", "column": "label"}}}
    return load_spec(raw)


def test_tokenizers_by_hand():
    assert tokens(MIXED) == [  # default: cjk, lower_and_strip_punctuation
        ["酒", "店", "很", "好", "服", "务", "不", "错", "iphone", "很", "好", "用"],
        ["ok", "很", "好", "dont"], [],
        ["ひ", "ら", "が", "な", "カ", "ナ", "한", "국", "어", "text"],
        ["abc2", "房", "间"]]
    assert tokens(MIXED, tokenizer="cjk_bigram") == [
        ["酒店", "店很", "很好", "服务", "务不", "不错", "iphone", "很好", "好用"],  # no pair across "，"
        ["ok", "很好", "dont"], [],
        ["ひら", "らが", "がな", "なカ", "カナ", "한국", "국어", "text"],
        ["abc2", "房间"]]
    assert tokens(MIXED, tokenizer="whitespace") == [
        ["酒店很好", "服务不错", "iphone", "很好用"], ["ok很好", "dont"], [],
        ["ひらがなカナ", "한국어", "text"], ["abc2", "房间"]]
    assert tokens(["Hi 你好!", " "], tokenizer="character") == [["h", "i", "你", "好"], []]
    assert tokens(["好"], tokenizer="cjk_bigram") == [["好"]]  # a lone character stays


def test_standardize_options_by_hand():
    text = ["ÉCOLE ＡＢＣ， Don't stop!"]
    assert tokens(text, standardize="lower_and_strip_punctuation") == [["école", "abc", "dont", "stop"]]
    assert tokens(text, standardize="lower") == [["école", "abc,", "don't", "stop!"]]
    assert tokens(text, standardize="strip_punctuation") == [["ÉCOLE", "ABC", "Dont", "stop"]]
    assert tokens(text, standardize="none") == [["ÉCOLE", "ＡＢＣ，", "Don't", "stop!"]]
    assert text_tokenize.standardizer("none") is None
    with pytest.raises(ValueError, match="tokenizer.*'spaces'"):
        text_tokenize.splitter("spaces")


def test_spec_choices_match_the_tokenizers():
    fields = {f.name: f for f in TextInputSpec.__dataclass_fields__.values()}
    assert fields["standardize"].metadata["choices"] == text_tokenize.STANDARDIZERS
    assert fields["tokenizer"].metadata["choices"] == text_tokenize.TOKENIZERS
    spec = text_spec().inputs["review"]
    assert (spec.standardize, spec.tokenizer, spec.ngrams) == ("lower_and_strip_punctuation", "cjk", None)
    with pytest.raises(SpecError, match=r"inputs\.review\.tokenizer: 'jieba' is not one of cjk, cjk_bigram"):
        text_spec(tokenizer="jieba")
    with pytest.raises(SpecError, match=r"inputs\.review\.ngrams: 0 is below the minimum 1"):
        text_spec(ngrams=0)


CHINESE = ["酒店很好，服务不错", "房间太小，服务很差", "早餐很好", "位置不错，房间干净"]


def test_default_tokenizer_gives_a_useful_chinese_vocabulary():
    spec = text_spec(sequence_length=6, max_tokens=100).inputs["review"]
    feature = TextFeature(spec).adapt(CHINESE)
    vocab = feature.vocabulary
    assert vocab[:3] == ["", "[UNK]", "很"]  # the most frequent character first
    assert set(vocab[2:]) == set("".join(CHINESE)) - {"，"}  # every character, no punctuation
    ids = {w: i for i, w in enumerate(vocab)}
    expected = [[ids["服"], ids["务"], ids["很"], ids["好"], 0, 0],
                [ids["房"], ids["间"], 1, ids["好"], 0, 0],     # 新 is unseen
                [0] * 6]
    for out in three_ways(feature.transform, ["服务很好", "房间新好", ""], per_batch=True, dtype=tf.string):
        np.testing.assert_array_equal(out, expected)
    # Split on whitespace, each training text is one token: nothing generalises.
    whitespace = TextFeature(text_spec(tokenizer="whitespace").inputs["review"]).adapt(CHINESE)
    assert whitespace.transform(tf.constant(["服务很好"])).numpy()[0, 0] == 1


def test_bigrams_and_ngrams_vocabulary():
    bigram = TextFeature(text_spec(tokenizer="cjk_bigram").inputs["review"]).adapt(CHINESE)
    assert {"服务", "很好", "不错"} <= set(bigram.vocabulary) and "好服" not in bigram.vocabulary
    ngram = TextFeature(text_spec(ngrams=2, sequence_length=8).inputs["review"]).adapt(["a cat sat", "a cat"])
    assert {"a", "cat", "sat", "a cat", "cat sat"} == set(ngram.vocabulary[2:])
    ids = {w: i for i, w in enumerate(ngram.vocabulary)}
    np.testing.assert_array_equal(ngram.transform(tf.constant(["A cat!"])).numpy()[0],
                                  [ids["a"], ids["cat"], ids["a cat"], 0, 0, 0, 0, 0])


def test_options_survive_preprocessor_save_load_and_mismatch_is_an_error(tmp_path):
    spec = text_spec(tokenizer="cjk_bigram", standardize="lower", ngrams=2, sequence_length=10)
    df = pd.DataFrame({"text": CHINESE + ["Hotel OK"], "label": ["a", "b", "a", "b", "a"]})
    pre = mmkeras.Preprocessor(spec).adapt(df)
    pre.save(str(tmp_path))
    again = mmkeras.Preprocessor.load(str(tmp_path))
    state = again.get_state()["features"]["review"]
    assert (state["tokenizer"], state["standardize"], state["ngrams"]) == ("cjk_bigram", "lower", 2)
    queries = tf.constant(["服务很好 hotel", "房间不错!", ""])
    np.testing.assert_array_equal(again({"review": queries})["review"].numpy(),
                                  pre({"review": queries})["review"].numpy())
    other = TextFeature(text_spec(tokenizer="cjk", standardize="lower", ngrams=2).inputs["review"])
    with pytest.raises(ValueError, match="tokenizer='cjk_bigram'.*tokenizer='cjk'"):
        other.set_state(state)


def test_export_serves_chinese_strings_like_in_memory(tmp_path):
    spec = text_spec(sequence_length=8, max_tokens=50,
                     encoder={"type": "bag_of_embeddings", "embedding_dim": 4})
    df = pd.DataFrame({"text": CHINESE * 2, "label": ["pos", "neg", "pos", "pos"] * 2})
    pre = mmkeras.Preprocessor(spec).adapt(df)
    model = mmkeras.build_model(spec, pre, compile=False)
    path = mmkeras.export_saved_model(model, pre, str(tmp_path / "export"))
    serve = tf.saved_model.load(path).signatures["serving_default"]
    queries = ["服务很好！", "房间太小", "HOTEL 很差", ""]
    served = serve(review=tf.constant(queries))["y_probabilities"].numpy()
    expected = model(pre({"review": tf.constant(queries)}), training=False)["y"].numpy()
    np.testing.assert_allclose(served, expected, atol=1e-5)
    assert len(set(np.round(served[:, 0], 6))) == 4  # the texts really reach the model


def test_example_spec_loads_with_the_cjk_tokenizer():
    spec = load_spec(os.path.join(REPO, "data_specs", "chnsenticorp_cjk.yaml"))
    review = spec.inputs["review"]
    assert review.tokenizer == "cjk_bigram" and review.ngrams is None
    assert spec.data.path == os.path.normpath(CHNSENTICORP)


@pytest.mark.skipif(not os.path.isfile(CHNSENTICORP), reason="shared ChnSentiCorp data is absent")
def test_chnsenticorp_vocabulary_default_versus_whitespace():
    df = pd.read_csv(CHNSENTICORP)
    train, test = df[df.split == "train"].head(1500), df[df.split == "test"].head(300)

    def oov_rate(**options):
        spec = text_spec(sequence_length=64, **options).inputs["review"]
        ids = TextFeature(spec).adapt(train["text"].fillna("")).transform(tf.constant(test["text"].fillna("")))
        ids = ids.numpy()
        return (ids == 1).sum() / max((ids > 0).sum(), 1)

    assert oov_rate() < 0.02                     # characters: almost every test token is known
    assert oov_rate(tokenizer="whitespace") > 0.5  # whole clauses: most are unseen
