"""Scaling out on `tf.distribute`: several GPUs (`mirrored`), several hosts (`multi_worker`), TPUs (`tpu`).

    strategy = mmkeras.distribute.strategy_for(spec)       # training.strategy: auto picks one
    with strategy.scope():
        model = mmkeras.build_model(spec, pre)
    train_ds = mmkeras.make_dataset(spec, splits["train"], pre, training=True, strategy=strategy)
    with mmkeras.distribute.fit_scope(model, strategy, train_ds):   # needed for multi_worker (keras#20585)
        model.fit(train_ds, epochs=5)

`training.batch_size` is the global batch; each replica gets
`batch_size / replicas` (`plan_for(spec).per_replica_batch`), and
`training.scale_learning_rate: linear` multiplies the learning rate by the
replicas. Runs checkpoint into `RUN_DIR/checkpoints/` and resume
(`mmkeras.distribute.checkpoints`); `training.data_service` moves decoding
to tf.data service workers (`mmkeras.distribute.data_service`).
"""

from mmkeras.distribute.cluster import (STRATEGIES, Cluster, checkpoint_interval, choose_strategy,
                                        cluster_from_tf_config, per_replica_batch, scaled_learning_rate)
from mmkeras.distribute.datasets import (check_files_per_worker, distribute_dataset, epoch_stream, fast_forward,
                                         for_strategy)
from mmkeras.distribute.keras_fit import fit_scope, local_copy
from mmkeras.distribute.strategy import Plan, find_tpu, make_strategy, plan_for, strategy_for

__all__ = ["STRATEGIES", "Cluster", "Plan", "check_files_per_worker", "checkpoint_interval", "choose_strategy",
           "cluster_from_tf_config", "distribute_dataset", "epoch_stream", "fast_forward", "find_tpu", "fit_scope",
           "for_strategy", "local_copy", "make_strategy", "per_replica_batch", "plan_for", "scaled_learning_rate",
           "strategy_for"]
