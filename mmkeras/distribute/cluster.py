"""Where a run is: the cluster `TF_CONFIG` describes, the accelerators visible, and which strategy `auto` picks.

Everything here is pure or reads the environment only: no TensorFlow
device is initialised and no network is touched, so the rules can be
unit-tested with made-up GPUs, `TF_CONFIG`s and TPU resolvers.
"""

import dataclasses
import json
import os

from mmkeras.errors import SpecError

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")
# Environment variables that say a TPU is attached (Cloud TPU VMs, Colab, GKE, TPU pods).
TPU_ENV = ("TPU_NAME", "COLAB_TPU_ADDR", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS", "TPU_ACCELERATOR_TYPE", "TPU_WORKER_ID")
# Device files of a TPU VM's chips.
TPU_DEVICE_FILES = ("/dev/accel0", "/dev/vfio/0")
# Task types of TF_CONFIG that train (an "evaluator" or "ps" does not run the replicated step).
TRAINING_TASKS = ("chief", "worker")


@dataclasses.dataclass(frozen=True)
class Cluster:
    """The training tasks of a `TF_CONFIG` and which one this process is.

    Attributes:
        tasks: ("type:index", "host:port") of every chief and worker, chief first.
        task_type: this process's task type ("chief" or "worker").
        task_index: its index among the tasks of that type.

    Example:

    >>> cluster = Cluster((("worker:0", "127.0.0.1:2222"), ("worker:1", "127.0.0.1:2223")), "worker", 1)
    >>> cluster.size, cluster.rank, cluster.is_chief
    (2, 1, False)
    """

    tasks: tuple
    task_type: str
    task_index: int

    @property
    def size(self):
        """Number of processes that train (chief and workers)."""
        return len(self.tasks)

    @property
    def rank(self):
        """This process's position in `tasks` (0 is the chief)."""
        return [name for name, _ in self.tasks].index(f"{self.task_type}:{self.task_index}")

    @property
    def is_chief(self):
        """The chief writes the run directory: task `chief:0`, else `worker:0` when there is no chief."""
        return self.rank == 0


def cluster_from_tf_config(text=None):
    """Parses `TF_CONFIG` (default: the environment variable) into a `Cluster`; None when it is unset or empty.

    Args:
        text: the JSON text of a `TF_CONFIG`.

    Raises:
        SpecError: the text is not JSON, or its task is not among its cluster's tasks.

    Example:

    >>> config = '{"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}, "task": {"type": "worker", "index": 0}}'
    >>> cluster = cluster_from_tf_config(config)
    >>> cluster.size, cluster.is_chief, cluster.tasks[1]
    (2, True, ('worker:1', '127.0.0.1:2223'))
    """
    text = os.environ.get("TF_CONFIG", "") if text is None else text
    if not text.strip():
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError(f"TF_CONFIG is not JSON ({e}): {text[:200]}") from None
    cluster = config.get("cluster") or {}
    task = config.get("task") or {}
    tasks = tuple((f"{kind}:{i}", address) for kind in TRAINING_TASKS for i, address in enumerate(cluster.get(kind, ())))
    if not tasks:
        return None
    kind, index = task.get("type"), task.get("index", 0)
    if f"{kind}:{index}" not in [name for name, _ in tasks]:
        raise SpecError(f"TF_CONFIG: task {kind}:{index} is not a training task of its cluster "
                        f"({', '.join(name for name, _ in tasks)}); each worker sets its own task type and index")
    return Cluster(tasks, kind, int(index))


def tpu_hinted(environ=None, exists=os.path.exists):
    """True when the environment says a TPU is attached (a TPU env variable or a TPU VM's device file).

    `auto` asks a TPU resolver only then, so a machine without a TPU never
    waits on the resolver's network look-ups.

    Example:

    >>> tpu_hinted({}, exists=lambda path: False), tpu_hinted({"TPU_NAME": "my-tpu"})
    (False, True)
    """
    environ = os.environ if environ is None else environ
    return any(environ.get(name) for name in TPU_ENV) or any(exists(path) for path in TPU_DEVICE_FILES)


def choose_strategy(requested, *, gpus, cluster, tpu_found):
    """The strategy a run uses: `requested`, or for "auto" the rules below.

    `auto`: `multi_worker` when `TF_CONFIG` names more than one training
    task, else `tpu` when a TPU was found, else `mirrored` when more than
    one GPU is visible, else `default` (one device, no tf.distribute).

    Args:
        requested: one of `STRATEGIES`.
        gpus: number of visible GPUs.
        cluster: the `Cluster` of `TF_CONFIG`, or None.
        tpu_found: whether a TPU resolver found a TPU (only asked when `tpu_hinted`).

    Example:

    >>> choose_strategy("auto", gpus=2, cluster=None, tpu_found=False)
    'mirrored'
    >>> choose_strategy("auto", gpus=0, cluster=None, tpu_found=False)
    'default'
    """
    if requested not in STRATEGIES:
        raise SpecError(f"training.strategy: {requested!r} is not one of {', '.join(STRATEGIES)}")
    if requested != "auto":
        return requested
    if cluster is not None and cluster.size > 1:
        return "multi_worker"
    if tpu_found:
        return "tpu"
    if gpus > 1:
        return "mirrored"
    return "default"


def per_replica_batch(global_batch, replicas):
    """The examples each replica gets from one global batch (`training.batch_size`); it must divide evenly.

    Example:

    >>> per_replica_batch(32, 2)
    16
    >>> per_replica_batch(30, 4)
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: training.batch_size: 30 (the global batch) does not split evenly over 4 replicas; use a multiple of 4, e.g. 32
    """
    if global_batch % replicas:
        multiple = -(-global_batch // replicas) * replicas
        raise SpecError(f"training.batch_size: {global_batch} (the global batch) does not split evenly over "
                        f"{replicas} replicas; use a multiple of {replicas}, e.g. {multiple}")
    return global_batch // replicas


def scaled_learning_rate(learning_rate, rule, replicas):
    """`training.learning_rate` after `training.scale_learning_rate` (None: unchanged; "linear": times replicas).

    Example:

    >>> scaled_learning_rate(0.001, "linear", 4), scaled_learning_rate(0.001, None, 4)
    (0.004, 0.001)
    """
    if rule in (None, "none"):
        return learning_rate
    if rule == "linear":
        return learning_rate * replicas
    raise SpecError(f"training.scale_learning_rate: {rule!r} is not one of linear, none")


def checkpoint_interval(value):
    """`training.checkpoint_every` as Keras' `save_freq`: "epoch", or a number of steps (>= 1).

    Example:

    >>> checkpoint_interval("epoch"), checkpoint_interval(50)
    ('epoch', 50)
    >>> checkpoint_interval("often")
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: training.checkpoint_every: 'often' is neither 'epoch' nor a number of steps >= 1
    """
    if value == "epoch" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise SpecError(f"training.checkpoint_every: {value!r} is neither 'epoch' nor a number of steps >= 1")
