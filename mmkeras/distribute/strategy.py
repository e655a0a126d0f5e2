"""A spec's `tf.distribute` strategy and the plan a run follows under it: replicas, batches, learning rate, XLA.

`plan_for(spec)` decides once per run; `strategy_for(spec)` is its
strategy, for the Keras path users know:

    strategy = mmkeras.distribute.strategy_for(spec)
    with strategy.scope():
        model = mmkeras.build_model(spec, pre)
    model.fit(mmkeras.make_dataset(spec, df, pre, training=True, strategy=strategy), epochs=5)

Strategies are created once per process and reused: TensorFlow allows one
`MultiWorkerMirroredStrategy` per process, created before anything else
runs (the run lifecycle makes its plan first).
"""

import contextlib
import dataclasses

import tensorflow as tf

from mmkeras.distribute.cluster import (Cluster, choose_strategy, cluster_from_tf_config, per_replica_batch,
                                        scaled_learning_rate, tpu_hinted)
from mmkeras.errors import SpecError
from mmkeras.specs import load_spec

_CREATED = {}  # strategy kind -> the strategy this process created
XLA_NOTE = ("XLA off: Keras compiles the whole replicated step (strategy.run and the all-reduce) as one XLA "
            "computation, which cannot reach variables placed on the other replicas' devices; the step runs as a "
            "TensorFlow graph instead")


def find_tpu(resolver_factory=None, *, hinted=None):
    """A connected `TPUClusterResolver` when a TPU is attached, else None.

    The resolver is asked only when `tpu_hinted()` (or `hinted`) says so,
    so machines without a TPU never wait on its network look-ups.

    Args:
        resolver_factory: makes the resolver (default
            `tf.distribute.cluster_resolver.TPUClusterResolver`, with `TPU_NAME`
            or "local" on a TPU VM); tests pass a fake.
        hinted: override `tpu_hinted()`.

    Example:

    >>> find_tpu(hinted=False) is None
    True
    """
    if not (tpu_hinted() if hinted is None else hinted):
        return None
    factory = resolver_factory or tf.distribute.cluster_resolver.TPUClusterResolver
    try:
        return factory()
    except (ValueError, RuntimeError, tf.errors.OpError):  # the resolver's "no TPU found"
        return None


def local_devices():
    """The devices one process mirrors over: its GPUs, else its (logical) CPUs.

    Example:

    >>> local_devices()[0].endswith("CPU:0")  # no GPU here
    True
    """
    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]


def make_strategy(kind, *, resolver=None):
    """The `tf.distribute.Strategy` of a kind, created once per process.

    Args:
        kind: "default", "mirrored", "multi_worker" or "tpu".
        resolver: the TPU resolver (`find_tpu`) for "tpu".

    Example:

    >>> make_strategy("default").num_replicas_in_sync
    1
    """
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind in _CREATED:
        return _CREATED[kind]
    if kind == "mirrored":
        strategy = tf.distribute.MirroredStrategy(local_devices())
    elif kind == "multi_worker":
        try:
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as e:
            raise RuntimeError(f"training.strategy: multi_worker must be created before TensorFlow runs anything in "
                               f"this process (call mmkeras.distribute.strategy_for(spec) first): {e}") from None
    elif kind == "tpu":
        resolver = resolver or find_tpu(hinted=True)
        if resolver is None:
            raise SpecError("training.strategy: tpu, but no TPU was found (set TPU_NAME, or run on a TPU VM)")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        strategy = tf.distribute.TPUStrategy(resolver)
    else:
        raise SpecError(f"training.strategy: {kind!r} is not one of default, mirrored, multi_worker, tpu")
    _CREATED[kind] = strategy
    return strategy


def jit_for(kind, replicas, jit_compile):
    """(`jit_compile` under a strategy, notes for the run log): XLA off with several mirrored replicas, said why.

    Keras XLA-compiles the step including `strategy.run` and the
    all-reduce; with more than one replica that one computation cannot
    reach the other replicas' variables (reproduced with 2 logical CPUs).

    Example:

    >>> jit_for("mirrored", 2, True)[0], jit_for("mirrored", 1, True)[0], jit_for("default", 1, "auto")[0]
    (False, True, 'auto')
    """
    if replicas > 1 and kind in ("mirrored", "multi_worker") and jit_compile is not False:
        return False, [XLA_NOTE]
    return jit_compile, []


@dataclasses.dataclass
class Plan:
    """How a run trains under tf.distribute: what `plan_for` decided.

    Attributes:
        kind: "default", "mirrored", "multi_worker" or "tpu".
        requested: `training.strategy` as written (or `--strategy`).
        strategy: the `tf.distribute.Strategy`.
        cluster: the `TF_CONFIG` cluster, or None.
        global_batch: `training.batch_size`: examples per step over all replicas.
        learning_rate: after `training.scale_learning_rate`.
        jit_compile: the model's `jit_compile` under this strategy.
        notes: lines the run log prints (why XLA is off, ...).
        base_learning_rate: `training.learning_rate` as written.

    Example:

    >>> plan = plan_for(spec)
    >>> plan.kind, plan.replicas, plan.per_replica_batch == spec.training.batch_size
    ('default', 1, True)
    """

    kind: str
    requested: str
    strategy: object
    cluster: Cluster
    global_batch: int
    learning_rate: float
    jit_compile: object
    notes: list
    base_learning_rate: float

    @property
    def replicas(self):
        """Replicas in sync: devices over all workers."""
        return self.strategy.num_replicas_in_sync

    @property
    def per_replica_batch(self):
        """Examples each replica gets per step."""
        return per_replica_batch(self.global_batch, self.replicas)

    @property
    def workers(self):
        """Processes that train together (1 unless multi_worker)."""
        return self.cluster.size if self.kind == "multi_worker" and self.cluster else 1

    @property
    def is_chief(self):
        """Whether this process writes the run directory (always, except a multi_worker non-chief)."""
        return self.workers == 1 or self.cluster.is_chief

    def input_context(self):
        """This worker's `tf.distribute.InputContext` (which share of the files it reads), or None on one worker.

        Example:

        >>> plan_for(spec).input_context() is None
        True
        """
        if self.workers == 1:
            return None
        return tf.distribute.InputContext(num_input_pipelines=self.workers, input_pipeline_id=self.cluster.rank,
                                          num_replicas_in_sync=self.replicas)

    @property
    def distributed(self):
        """True under any strategy but the default one."""
        return self.kind != "default"

    def scope(self):
        """The strategy's scope (build the model in it), or a no-op for the default strategy."""
        return self.strategy.scope() if self.distributed else contextlib.nullcontext()

    def build_spec(self, spec):
        """`spec` with the learning rate and `jit_compile` this plan trains with (what the model is compiled from)."""
        training = dataclasses.replace(spec.training, learning_rate=self.learning_rate, jit_compile=self.jit_compile)
        return dataclasses.replace(spec, training=training)

    def summary(self):
        """What `distribute.json` of a run holds and the report prints.

        Example:

        >>> sorted(plan_for(spec).summary())[:4]
        ['global_batch', 'jit_compile', 'learning_rate', 'per_replica_batch']
        """
        return {"strategy": self.kind, "requested": self.requested, "replicas": self.replicas,
                "workers": self.workers, "global_batch": self.global_batch,
                "per_replica_batch": self.per_replica_batch, "learning_rate": self.learning_rate,
                "jit_compile": self.jit_compile}

    def lines(self):
        """The lines a run prints about its strategy.

        Example:

        >>> plan_for(spec, "default").lines()[0]  # doctest: +ELLIPSIS
        'strategy: default, 1 replica; global batch ... = ... per replica'
        """
        how = f" ({self.requested})" if self.requested != self.kind else ""
        replicas = f"{self.replicas} replica{'s' if self.replicas != 1 else ''}"
        workers = f" on {self.workers} workers" if self.workers > 1 else ""
        line = (f"strategy: {self.kind}{how}, {replicas}{workers}; global batch {self.global_batch} = "
                f"{self.per_replica_batch} per replica")
        if self.learning_rate != self.base_learning_rate:
            line += f"; learning rate {self.learning_rate:g} ({self.base_learning_rate:g} x {self.replicas}, linear)"
        return [line, *self.notes]


def plan_for(spec, strategy=None, *, gpus=None, resolver_factory=None):
    """Decides how a spec trains: the strategy (`training.strategy`, or `strategy`), replicas, batches, XLA.

    Args:
        spec: a Spec, spec file or dict.
        strategy: overrides `training.strategy` (the `--strategy` option).
        gpus: number of visible GPUs (default: `tf.config.list_physical_devices`).
        resolver_factory: TPU resolver maker (see `find_tpu`).

    Returns:
        A `Plan`.

    Raises:
        SpecError: the global batch does not split evenly over the replicas; an unknown strategy.

    Example:

    >>> plan_for(spec, "default").strategy is tf.distribute.get_strategy()
    True
    """
    spec = load_spec(spec)
    t = spec.training
    requested = strategy or t.strategy
    cluster = cluster_from_tf_config()
    gpus = len(tf.config.list_physical_devices("GPU")) if gpus is None else gpus
    resolver = None
    if requested == "tpu" or (requested == "auto" and not (cluster and cluster.size > 1)):
        resolver = find_tpu(resolver_factory, hinted=True if requested == "tpu" else None)
    kind = choose_strategy(requested, gpus=gpus, cluster=cluster, tpu_found=resolver is not None)
    made = make_strategy(kind, resolver=resolver)
    replicas = made.num_replicas_in_sync
    per_replica_batch(t.batch_size, replicas)  # raises early when it does not split
    jit, notes = jit_for(kind, replicas, t.jit_compile)
    rate = scaled_learning_rate(t.learning_rate, t.scale_learning_rate, replicas)
    return Plan(kind=kind, requested=requested, strategy=made, cluster=cluster, global_batch=t.batch_size,
                learning_rate=rate, jit_compile=jit, notes=notes, base_learning_rate=t.learning_rate)


def strategy_for(spec, strategy=None):
    """The `tf.distribute.Strategy` a spec trains under (see `plan_for` for how it is chosen).

    Args:
        spec: a Spec, spec file or dict.
        strategy: overrides `training.strategy`.

    Example:

    >>> strategy = strategy_for(spec)
    >>> with strategy.scope():
    ...     model = mmkeras.build_model(spec, pre)
    >>> strategy.num_replicas_in_sync
    1
    """
    return plan_for(spec, strategy).strategy
