"""Evaluating a dual encoder on a table: the paired rows, both towers' embeddings, recall@k both ways."""

import keras
import numpy as np

from mmkeras.data import make_dataset
from mmkeras.data.columns import data_root
from mmkeras.data.presence import is_missing_cell
from mmkeras.errors import DataError
from mmkeras.progress import BatchProgress, dataset_steps
from mmkeras.tasks.retrieval.metrics import retrieval_metrics


def paired_rows(spec, df):
    """The rows of `df` where both inputs of the pair are present, and how many were dropped.

    A row with an empty path, an empty string or NaN on either side is no
    positive pair, so it is left out of training and evaluation.

    Example:

    >>> pairs_spec = mmkeras.load_spec(mmkeras.testing.retrieval_spec_dict(os.path.join(data_dir, "manifest.csv")))
    >>> kept, dropped = paired_rows(pairs_spec, splits["train"])
    >>> len(kept) + dropped == len(splits["train"])
    True
    """
    keep = np.ones(len(df), dtype=bool)
    for name in spec.task.pair:
        column = df[spec.inputs[name].column]
        keep &= ~np.array([is_missing_cell(v) for v in column.tolist()], dtype=bool)
    return df[keep].reset_index(drop=True), int((~keep).sum())


def embed_table(model, preprocessor, df, *, root=None, table="", batch_size=None):
    """Both towers' embeddings of every row of a table: {input: float32 `[rows, dim]`}.

    Example:

    >>> pairs_spec = mmkeras.load_spec(mmkeras.testing.retrieval_spec_dict(os.path.join(data_dir, "manifest.csv")))
    >>> pairs_pre = mmkeras.Preprocessor(pairs_spec).adapt(splits["train"])
    >>> pairs = mmkeras.tasks.retrieval.build_dual_encoder(pairs_spec, pairs_pre)
    >>> emb = embed_table(pairs, pairs_pre, splits["test"])
    >>> emb["picture"].shape == (len(splits["test"]), 8)
    True
    """
    spec = preprocessor.spec
    ds = make_dataset(spec, df, preprocessor, with_targets=False, root=root, table=table, batch_size=batch_size)
    predictions = model.predict(ds, verbose=0, callbacks=[BatchProgress(f"embed {table or 'the table'}",
                                                                        dataset_steps(ds))])
    return {name: np.asarray(predictions[name], dtype=np.float32) for name in spec.task.pair}


def evaluate_retrieval(model, preprocessor, df, *, root=None, table=""):
    """`{"retrieval": metrics}` of a table: both directions' recall@1/5/10, median rank, chance.

    Rows missing either input are left out. Duplicated items (several rows
    with the same raw value, e.g. the same name) count as hits for each
    other; see `mmkeras.tasks.retrieval.metrics`.

    Example:

    >>> pairs_spec = mmkeras.load_spec(mmkeras.testing.retrieval_spec_dict(os.path.join(data_dir, "manifest.csv")))
    >>> pairs_pre = mmkeras.Preprocessor(pairs_spec).adapt(splits["train"])
    >>> pairs = mmkeras.tasks.retrieval.build_dual_encoder(pairs_spec, pairs_pre)
    >>> metrics = evaluate_retrieval(pairs, pairs_pre, splits["test"])["retrieval"]
    >>> 0.0 <= metrics["picture_to_caption_recall@1"] <= 1.0, metrics["count"] == len(splits["test"])
    (True, True)
    """
    spec = preprocessor.spec
    df, dropped = paired_rows(spec, df)
    if len(df) == 0:
        raise DataError(f"{table or 'the table'}: no row has both {list(spec.task.pair)}")
    embeddings = embed_table(model, preprocessor, df, root=root, table=table)
    raw = preprocessor.raw_columns(df, root=root or data_root(spec), table=table)
    metrics = retrieval_metrics(embeddings, {n: raw[n] for n in spec.task.pair})
    metrics["rows_without_pair"] = dropped
    metrics["temperature"] = float(1.0 / keras.ops.convert_to_numpy(model.logit_scale()))
    return {"retrieval": metrics}
