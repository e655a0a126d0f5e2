"""Reading TensorFlow profiler traces without TensorBoard: run code under the profiler, parse the XPlane.

`tf.profiler.experimental.start/stop` writes `plugins/profile/<run>/<host>.xplane.pb`;
`load_events` reads its host-CPU events with the protobuf classes TensorFlow
ships (`tensorflow.tsl.profiler.protobuf.xplane_pb2`) and computes each
event's self time, which `summarize_epoch` and `top_self_time` add up.
"""

import collections
import glob
import os
import resource
import tempfile

import tensorflow as tf

_MARKERS = ("ThreadpoolListener",)  # zero-length bookkeeping events


def trace(fn, logdir=None):
    """Runs `fn()` under the TensorFlow profiler; returns (fn's result, path of the .xplane.pb written).

    Example:

    >>> _, path = trace(lambda: tf.reduce_sum(tf.ones([4])))
    >>> path.endswith(".xplane.pb")
    True
    """
    logdir = logdir or tempfile.mkdtemp(prefix="mmkeras-profile-")
    tf.profiler.experimental.start(logdir)
    try:
        result = fn()
    finally:
        tf.profiler.experimental.stop()
    paths = sorted(glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb")), key=os.path.getmtime)
    if not paths:
        raise RuntimeError(f"the profiler wrote no .xplane.pb under {logdir}")
    return result, paths[-1]


def load_events(path):
    """The host CPU events of an XPlane file: a list of (thread, name, start_ps, duration_ps, self_ps).

    Self time is the duration less that of the events directly nested in it
    on the same thread (the profiler nests TraceMe scopes per thread).

    Example:

    >>> events = load_events(path)
    >>> events[0][1]
    'EagerExecute'
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    events = []
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            thread = line.name
            evs = sorted(((line.timestamp_ns * 1000 + e.offset_ps, e.duration_ps, names.get(e.metadata_id, "?"))
                          for e in line.events if not names.get(e.metadata_id, "").startswith(_MARKERS)),
                         key=lambda e: (e[0], -e[1]))
            stack = []  # [start, end, name, self]
            for start, dur, name in evs:
                while stack and stack[-1][1] <= start:
                    events.append(_close(thread, stack.pop()))
                if stack:
                    stack[-1][3] -= min(dur, stack[-1][1] - start)
                stack.append([start, start + dur, name, dur])
            events += [_close(thread, s) for s in reversed(stack)]
    return events


def _close(thread, item):
    start, end, name, self_ps = item
    return thread, name, start, end - start, max(self_ps, 0)


def thread_group(thread):
    """The work a profiler thread does: "tf.data" (producing elements), "input wait" (the consumer side of
    IteratorGetNext), "compute" (Eigen pool: XLA kernels), "executor" (TF executor, mostly blocked on XLA)
    or "python".

    Example:

    >>> thread_group("tf_numa_-1_Eigen/123")
    'compute'
    """
    if thread.startswith("tf_data_iterator_get_next"):
        return "input wait"
    if thread.startswith("tf_data"):
        return "tf.data"
    if "Eigen" in thread:
        return "compute"
    if thread.startswith(("tf_Compute", "tf_inter", "tf_intra")):
        return "executor"
    return "python" if thread == "python" else "other"


def cpu_seconds():
    """CPU seconds this process has used so far, all threads (user + system).

    Example:

    >>> cpu_seconds() > 0
    True
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def step_calls(events):
    """(start, duration) of the outermost train-step calls (Keras' `multi_step_on_iterator`...) on the python thread."""
    steps = [(s, d) for t, n, s, d, _ in events if t == "python" and "step_on_" in n and "__inference" not in n
             and not n.startswith("EagerLocalExecute")]
    return [(s, d) for s, d in steps if not any(s2 < s and s + d <= s2 + d2 for s2, d2 in steps)]


def outside_steps(events):
    """The python thread's events that lie outside every train-step call (Keras' loop, iterator set-up/teardown).

    Example:

    >>> top_self_time(outside_steps(load_events(path)), 1)[0]["name"]
    'TFE_DeleteTensorHandle'
    """
    steps = step_calls(events)
    return [e for e in events if e[0] == "python" and not any(s <= e[2] and e[2] + e[3] <= s + d for s, d in steps)]


def summarize_epoch(events, wall_s, examples, cpu_s=None):
    """Splits one traced epoch (events of `load_events`) into step, input-wait, XLA and per-thread time.

    `cpu_s`: CPU seconds the process used in the epoch (all threads, from
    getrusage), which gives the cores busy on average.

    Example:

    >>> summarize_epoch(load_events(path), wall_s=1.2, examples=416)["input_wait_s"]
    0.004
    """
    total = lambda pred: sum(d for t, n, s, d, _ in events if pred(t, n)) / 1e12  # noqa: E731
    outer = step_calls(events)
    busy = collections.Counter()
    for t, n, s, d, self_ps in events:
        busy[thread_group(t)] += self_ps / 1e12
    step_s = sum(d for _, d in outer) / 1e12
    return {"epoch_s": wall_s, "examples_per_s": examples / wall_s, "step_calls": len(outer), "in_steps_s": step_s,
            "outside_steps_s": max(wall_s - step_s, 0.0),
            "input_wait_s": total(lambda t, n: n == "IteratorGetNextOp::DoCompute"),
            "xla_execute_s": total(lambda t, n: n == "CpuExecutable::ExecuteAsyncOnStream"),
            "tf_data_work_s": busy["tf.data"], "xla_kernels_s": busy["compute"],
            "cores_busy": None if cpu_s is None else cpu_s / wall_s}


def top_self_time(events, count=10, key=lambda thread, name: name):
    """The `count` event names (grouped by `key`) with the most self time: [{"name", "self_ms", "share"}].

    Example:

    >>> top_self_time(load_events(path), 3, key=lambda thread, name: thread)[0]["name"]
    'tf_numa_-1_Eigen/123'
    """
    by = collections.Counter()
    for t, n, s, d, self_ps in events:
        by[key(t, n)] += self_ps
    all_ps = sum(by.values()) or 1
    return [{"name": k, "self_ms": v / 1e9, "share": v / all_ps} for k, v in by.most_common(count)]
