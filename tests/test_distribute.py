"""tf.distribute without a cluster: which strategy a spec gets (mocked GPUs, TF_CONFIG, TPU resolver), replicas,
global and per-replica batches, learning-rate scaling, dataset sharding options, checkpoint helpers, the data
service's addresses. The multi-process runs are in test_distribute_runs.py."""

import json
import os
import types

import pytest
import tensorflow as tf

import mmkeras
import mmkeras.distribute.strategy as strategy_module
from helpers import tiny_spec_dict
from mmkeras import distribute
from mmkeras.distribute.checkpoints import check_same_spec, history_of, spec_changes
from mmkeras.distribute.cluster import choose_strategy, cluster_from_tf_config, tpu_hinted
from mmkeras.distribute.data_service import service_address
from mmkeras.errors import DataError, SpecError
from mmkeras.specs import load_spec


def _tf_config(workers, index=0, chief=None):
    cluster = {"worker": [f"127.0.0.1:{2000 + i}" for i in range(workers)]}
    if chief:
        cluster["chief"] = ["127.0.0.1:1999"]
    return json.dumps({"cluster": cluster, "task": {"type": "chief" if chief and index < 0 else "worker",
                                                    "index": max(index, 0)}})


def test_tf_config_is_parsed_into_a_cluster_whose_chief_writes():
    assert cluster_from_tf_config("") is None
    one = cluster_from_tf_config(_tf_config(1))
    assert one.size == 1 and one.is_chief
    two = cluster_from_tf_config(_tf_config(2, index=1))
    assert (two.size, two.rank, two.is_chief) == (2, 1, False)
    with_chief = cluster_from_tf_config(_tf_config(2, index=0, chief=True))
    assert with_chief.size == 3 and with_chief.tasks[0][0] == "chief:0" and not with_chief.is_chief
    assert cluster_from_tf_config(_tf_config(2, index=-1, chief=True)).is_chief
    with pytest.raises(SpecError, match="TF_CONFIG is not JSON"):
        cluster_from_tf_config("{cluster")
    with pytest.raises(SpecError, match="task worker:5 is not a training task"):
        cluster_from_tf_config(_tf_config(2, index=5))


@pytest.mark.parametrize("requested, gpus, workers, tpu, expected", [
    ("auto", 0, 0, False, "default"),
    ("auto", 1, 0, False, "default"),
    ("auto", 2, 0, False, "mirrored"),
    ("auto", 8, 1, False, "mirrored"),       # a TF_CONFIG of one task is one process
    ("auto", 0, 2, False, "multi_worker"),
    ("auto", 4, 3, True, "multi_worker"),    # several hosts win over local devices
    ("auto", 2, 0, True, "tpu"),
    ("mirrored", 0, 0, False, "mirrored"),   # an explicit strategy is taken as it is
    ("default", 4, 2, True, "default"),
])
def test_auto_picks_the_strategy_from_gpus_tf_config_and_tpu(requested, gpus, workers, tpu, expected):
    cluster = cluster_from_tf_config(_tf_config(workers)) if workers else None
    assert choose_strategy(requested, gpus=gpus, cluster=cluster, tpu_found=tpu) == expected


def test_an_unknown_strategy_is_a_spec_error():
    with pytest.raises(SpecError, match="training.strategy: 'horovod' is not one of auto, default"):
        choose_strategy("horovod", gpus=0, cluster=None, tpu_found=False)


def test_the_tpu_resolver_is_asked_only_when_the_environment_hints_a_tpu(monkeypatch):
    calls = []

    def resolver():
        calls.append(1)
        return "resolver"

    def no_tpu():
        calls.append(1)
        raise ValueError("Please provide a TPU Name to connect to.")

    assert not tpu_hinted({}, exists=lambda path: False)
    assert tpu_hinted({"COLAB_TPU_ADDR": "10.0.0.2:8470"}) and tpu_hinted({}, exists=lambda p: p == "/dev/accel0")
    assert distribute.find_tpu(resolver, hinted=False) is None and calls == []   # no hint: never asked
    assert distribute.find_tpu(resolver, hinted=True) == "resolver" and calls == [1]
    assert distribute.find_tpu(no_tpu, hinted=True) is None                       # "not found" is None


def test_the_tpu_strategy_connects_initialises_and_distributes(monkeypatch):
    done = []
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", lambda r: done.append(("connect", r)))
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", lambda r: done.append(("init", r)))
    monkeypatch.setattr(tf.distribute, "TPUStrategy", lambda r: types.SimpleNamespace(resolver=r))
    monkeypatch.setattr(strategy_module, "_CREATED", {})
    made = distribute.make_strategy("tpu", resolver="fake-resolver")
    assert made.resolver == "fake-resolver" and done == [("connect", "fake-resolver"), ("init", "fake-resolver")]
    monkeypatch.setattr(strategy_module, "_CREATED", {})
    monkeypatch.setattr(strategy_module, "tpu_hinted", lambda: False)
    with pytest.raises(SpecError, match="training.strategy: tpu, but no TPU was found"):
        distribute.make_strategy("tpu")


def test_global_batch_per_replica_batch_and_linear_learning_rate():
    assert distribute.per_replica_batch(64, 4) == 16
    with pytest.raises(SpecError, match="training.batch_size: 30 .* over 4 replicas; use a multiple of 4, e.g. 32"):
        distribute.per_replica_batch(30, 4)
    assert distribute.scaled_learning_rate(1e-3, "linear", 8) == pytest.approx(8e-3)
    assert distribute.scaled_learning_rate(1e-3, None, 8) == 1e-3
    assert distribute.checkpoint_interval(25) == 25
    for bad in (0, -3, True, "weekly"):
        with pytest.raises(SpecError, match="training.checkpoint_every"):
            distribute.checkpoint_interval(bad)


def test_xla_is_turned_off_with_several_mirrored_replicas_and_the_log_says_why():
    jit, notes = distribute.strategy.jit_for("mirrored", 2, True)
    assert jit is False and notes[0].startswith("XLA off: Keras compiles the whole replicated step")
    assert distribute.strategy.jit_for("multi_worker", 4, "auto") == (False, notes)
    assert distribute.strategy.jit_for("mirrored", 1, True) == (True, [])      # one replica: as the spec says
    assert distribute.strategy.jit_for("tpu", 8, True) == (True, [])           # TPUs compile the step themselves


def _plan(spec, kind, replicas, **kw):
    fake = types.SimpleNamespace(num_replicas_in_sync=replicas)
    return distribute.Plan(kind=kind, requested="auto", strategy=fake, cluster=None, global_batch=spec.training.batch_size,
                           learning_rate=spec.training.learning_rate * replicas, jit_compile=False, notes=[],
                           base_learning_rate=spec.training.learning_rate, **kw)


def test_a_plan_says_what_was_picked_and_how_many_replicas(demo_manifest, monkeypatch):
    spec = load_spec(tiny_spec_dict(demo_manifest, batch_size=32, learning_rate=0.001, scale_learning_rate="linear"))
    plan = distribute.plan_for(spec)
    assert (plan.kind, plan.replicas, plan.per_replica_batch, plan.is_chief) == ("default", 1, 32, True)
    assert plan.lines()[0] == "strategy: default (auto), 1 replica; global batch 32 = 32 per replica"
    four = _plan(spec, "mirrored", 4)
    assert four.per_replica_batch == 8 and four.summary()["replicas"] == 4
    assert four.lines()[0] == ("strategy: mirrored (auto), 4 replicas; global batch 32 = 8 per replica; "
                               "learning rate 0.004 (0.001 x 4, linear)")
    assert four.build_spec(spec).training.learning_rate == pytest.approx(0.004)
    monkeypatch.setenv("TF_CONFIG", _tf_config(1))                 # one task: still one process
    assert distribute.plan_for(spec).kind == "default"
    mirrored = distribute.plan_for(spec, gpus=2)                  # two (mocked) GPUs: mirrored, over this host's devices
    assert mirrored.kind == "mirrored" and mirrored.replicas == len(distribute.strategy.local_devices())


def test_make_dataset_with_a_strategy_keeps_global_batches_and_shards_by_row(demo_manifest):
    spec = load_spec(tiny_spec_dict(demo_manifest, batch_size=8))
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    strategy = tf.distribute.get_strategy()
    ds = mmkeras.make_dataset(spec, splits["train"], pre, training=True, strategy=strategy)
    assert ds.element_spec[0]["_presence"].shape[0] == 8             # static global batch
    assert ds.options().experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.DATA


def test_dataset_sharding_options_and_too_few_files():
    ds = distribute.for_strategy(tf.data.Dataset.range(4).batch(2), tf.distribute.get_strategy(), sharding="file")
    assert ds.options().experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.FILE
    with pytest.raises(ValueError, match="sharding must be one of data, file, off"):
        distribute.for_strategy(ds, tf.distribute.get_strategy(), sharding="rows")
    distribute.check_files_per_worker(4, 4, "x")
    with pytest.raises(DataError, match="has 3 files for 4 workers.*--shards 4"):
        distribute.check_files_per_worker(3, 4, "the train split of shards/x")


def test_fast_forward_reproduces_the_shuffle_order_of_a_later_epoch():
    def make():
        return tf.data.Dataset.range(10).shuffle(10, seed=4, reshuffle_each_iteration=True).batch(5)

    first = make()
    orders = [[b.tolist() for b in first.as_numpy_iterator()] for _ in range(3)]
    assert orders[0] != orders[1]
    resumed = distribute.fast_forward(make(), 2)
    assert [b.tolist() for b in resumed.as_numpy_iterator()] == orders[2]


def test_a_changed_spec_is_named_and_the_strategy_may_change():
    old = {"training": {"epochs": 2, "strategy": "mirrored", "learning_rate": 0.001}, "name": "a"}
    new = {"training": {"epochs": 2, "strategy": "default", "learning_rate": 0.01}, "name": "a"}
    assert spec_changes(old, new) == ["training.strategy: 'mirrored' -> 'default'",
                                      "training.learning_rate: 0.001 -> 0.01"]
    with pytest.raises(SpecError, match=r"cannot resume r: the spec changed .*\(training.learning_rate: 0.001 -> 0.01\)"):
        check_same_spec(old, new, "r")
    check_same_spec(old, dict(old, training=dict(old["training"], strategy="default")), "r")
    assert history_of([{"epoch": 0, "loss": 2.0}, {"epoch": 1, "loss": 1.0}]).epoch == [0, 1]


def test_data_service_addresses():
    assert service_address("grpc://host:5000") == "grpc://host:5000"
    assert service_address(" 10.0.0.3:7000 ") == "grpc://10.0.0.3:7000"
    with pytest.raises(SpecError, match="--dispatcher: 'host:port'"):
        service_address("host:port", key="--dispatcher")


def test_strategy_for_builds_models_in_its_scope(demo_manifest):
    spec = load_spec(tiny_spec_dict(demo_manifest))
    strategy = distribute.strategy_for(spec, "mirrored")          # one local CPU: one replica
    assert isinstance(strategy, tf.distribute.MirroredStrategy) and strategy.num_replicas_in_sync >= 1
    assert distribute.strategy_for(spec, "mirrored") is strategy   # created once per process
    assert os.environ.get("TF_CONFIG") is None
