"""The tf.data service: heavy per-example work (reading and decoding images, audio, video) on other machines.

`mmkeras data-service dispatcher --port P` starts TensorFlow's
`DispatchServer`, and `mmkeras data-service worker --dispatcher HOST:P` a
`WorkerServer` (as many as wanted, on any machines that see the data's
files). A spec with `training.data_service: grpc://HOST:P` then sends its
training pipeline's per-example stages (read the files, decode each example)
to the service in `distributed_epoch` mode: the workers split each epoch's
examples between them, so every example is decoded once per epoch; the
trainer batches and runs the vectorised per-batch transform itself.
The order of examples then depends on the workers' timing (not
reproducible); validation, evaluation and export never use the service.
"""

import re

import tensorflow as tf

from mmkeras.errors import SpecError

ADDRESS = re.compile(r"^(grpc://)?([^:/]+):(\d+)$")


def service_address(address, key="training.data_service"):
    """`grpc://HOST:PORT` of a dispatcher address written as `HOST:PORT` or `grpc://HOST:PORT`.

    Example:

    >>> service_address("127.0.0.1:5050")
    'grpc://127.0.0.1:5050'
    >>> service_address("localhost")
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: training.data_service: 'localhost' is not HOST:PORT or grpc://HOST:PORT of a tf.data service dispatcher
    """
    match = ADDRESS.match(str(address).strip())
    if not match:
        raise SpecError(f"{key}: {address!r} is not HOST:PORT or grpc://HOST:PORT of a tf.data service dispatcher")
    return f"grpc://{match.group(2)}:{match.group(3)}"


def service_stage(address, *, job_name=None):
    """A pipeline stage `ds -> ds` that runs `ds` on the tf.data service (`distributed_epoch`).

    Args:
        address: the dispatcher (`training.data_service`).
        job_name: share one job between trainers (None: each epoch is a new job of this trainer).

    Example:

    >>> stage = service_stage("grpc://127.0.0.1:5050")
    >>> callable(stage)
    True
    """
    target = service_address(address)

    def stage(ds):
        return ds.apply(tf.data.experimental.service.distribute(
            processing_mode="distributed_epoch", service=target, job_name=job_name))

    return stage


def start_dispatcher(port, *, work_dir=None):
    """Starts a tf.data service dispatcher on `port` (0: a free one); returns the `DispatchServer`.

    Args:
        port: the port to listen on.
        work_dir: a folder for its journal (fault tolerance: a restarted dispatcher resumes its jobs).

    Example:

    >>> dispatcher = start_dispatcher(0)
    >>> dispatcher.target.startswith("grpc://")
    True
    """
    config = tf.data.experimental.service.DispatcherConfig(port=port, work_dir=work_dir,
                                                            fault_tolerant_mode=bool(work_dir))
    return tf.data.experimental.service.DispatchServer(config)


def start_worker(dispatcher, port=0, *, worker_address=None):
    """Starts a tf.data service worker that registers with `dispatcher` (`HOST:PORT`); returns the `WorkerServer`.

    Args:
        dispatcher: the dispatcher's address (`HOST:PORT` or `grpc://HOST:PORT`).
        port: the port to listen on (0: a free one).
        worker_address: the address the dispatcher tells trainers (default: this host, `port`).

    Example:

    >>> dispatcher = start_dispatcher(0)
    >>> worker = start_worker(dispatcher.target)
    >>> ds = service_stage(dispatcher.target)(tf.data.Dataset.range(5))
    >>> sorted(int(x) for x in ds)
    [0, 1, 2, 3, 4]
    """
    address = service_address(dispatcher, key="--dispatcher")[len("grpc://"):]
    config = tf.data.experimental.service.WorkerConfig(dispatcher_address=address, port=port,
                                                        worker_address=worker_address)
    return tf.data.experimental.service.WorkerServer(config)


def serve(role, *, port=0, dispatcher=None, work_dir=None, say=print, wait=True):
    """Starts a dispatcher or a worker (`mmkeras data-service ...`), says where it listens, and serves until killed.

    Args:
        role: "dispatcher" or "worker".
        port: the port to listen on (0: a free one, printed).
        dispatcher: a worker's dispatcher (`HOST:PORT`).
        work_dir: a dispatcher's journal folder (fault tolerance).
        say: print function for the line naming the address.
        wait: block until the process is killed (False: return the server).

    Example:

    >>> server = serve("dispatcher", say=lambda line: None, wait=False)
    >>> server.target.startswith("grpc://")
    True
    """
    if role == "dispatcher":
        server = start_dispatcher(port, work_dir=work_dir)
        say(f"tf.data service dispatcher listening on {server.target}; start workers with "
            f"mmkeras data-service worker --dispatcher HOST:{server.target.rsplit(':', 1)[1]}")
    elif role == "worker":
        server = start_worker(dispatcher, port)
        say(f"tf.data service worker registered with {service_address(dispatcher, key='--dispatcher')}")
    else:
        raise ValueError(f"role must be 'dispatcher' or 'worker', got {role!r}")
    if wait:
        server.join()
    return server
