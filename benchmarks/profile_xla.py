"""Figure 4's profile: where a train step spends its time with XLA on and off, on this CPU.

    python -m benchmarks.profile --parts xla [--quick]

The model of figure 4 (the generated demo data, one fusion) is trained from
in-memory batches with `jit_compile` on and off. For each: the median step
time, a profiler trace of `steps` steps (parsed like the other parts: op
types by self time, time per thread group), and each input's encoder alone,
forward and backward (`tf.GradientTape` in a `tf.function` compiled with and
without XLA), so the difference is attributed to the layers that cause it.
"""

import tensorflow as tf

from benchmarks import common
from benchmarks.xplane import load_events, thread_group, top_self_time, trace


def _encoder_times(model, batch, names, jit, repeats):
    rows = {}
    for name in names:
        encoder = model.get_layer(f"{name}_encoder")
        x = tf.constant(batch[name])

        def grad_step(x, encoder=encoder):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.cast(encoder(x, training=True), tf.float32))
            grads = tape.gradient(loss, encoder.trainable_variables)
            return [tf.convert_to_tensor(g) for g in grads if g is not None]  # embeddings: IndexedSlices

        fn = tf.function(grad_step, jit_compile=jit)
        fn(x)  # trace and compile outside the timing
        _, times = common.median_time(lambda fn=fn: [g.numpy() for g in fn(x)], repeats)
        rows[name] = min(times) * 1e3
    return rows


def profile_xla(examples=600, steps=20, fusion="concat", repeats=3):
    """Step time, trace and per-encoder forward+backward time with XLA on and off.

    Example:

    >>> r = profile_xla(300, steps=5, repeats=1)
    >>> sorted(r["step_ms"])
    ['off', 'on']
    """
    from benchmarks.datasets import generated_spec
    from benchmarks.xla import compiled_model

    base = generated_spec(examples, image_audio_only=False)
    base = {**base, "fusion": {"type": fusion, "hidden_units": [64]}}
    result = {"examples": examples, "steps": steps, "fusion": fusion, "step_ms": {}, "encoder_ms": {},
              "op_types": {}, "thread_groups": {}}
    for label, jit in (("on", True), ("off", False)):
        spec, model, memory = compiled_model(base, jit)
        _, times = common.median_time(lambda: model.fit(memory, steps_per_epoch=steps, epochs=1, verbose=0),
                                      repeats)
        result["step_ms"][label] = min(times) / steps * 1e3
        _, path = trace(lambda: model.fit(memory, steps_per_epoch=steps, epochs=1, verbose=0))
        events = load_events(path)
        ops = [e for e in events if ":" in e[1] and "::" not in e[1] and not e[1].startswith("Eager")]
        result["op_types"][label] = top_self_time(ops, 8, key=lambda t, n: n.rsplit(":", 1)[1])
        result["thread_groups"][label] = top_self_time(events, 6, key=lambda t, n: thread_group(t))
        batch = next(iter(memory))[0]
        result["encoder_ms"][label] = _encoder_times(model, batch, list(spec.inputs), jit, repeats)
    result["encoders"] = [{"encoder": n, "xla_ms": result["encoder_ms"]["on"][n],
                           "no_xla_ms": result["encoder_ms"]["off"][n],
                           "xla_minus_no_xla_ms": result["encoder_ms"]["on"][n] - result["encoder_ms"]["off"][n]}
                          for n in result["encoder_ms"]["on"]]
    result["bound"] = xla_bound(result)
    return result


def xla_bound(r):
    """The sentence RESULTS.md gives for figure 4, from the numbers of `profile_xla`.

    Example:

    >>> xla_bound(profile_xla(300, steps=5, repeats=1))[:9]
    'With XLA '
    """
    on, off = r["step_ms"]["on"], r["step_ms"]["off"]
    diffs = sorted(r["encoders"], key=lambda e: -e["xla_minus_no_xla_ms"])
    worst = diffs[0]
    total = sum(e["xla_minus_no_xla_ms"] for e in r["encoders"])
    ops_off = ", ".join(f"{o['name']} {o['share']:.0%}" for o in r["op_types"]["off"][:4]) or "none recorded"
    groups_on = {g["name"]: g["share"] for g in r["thread_groups"]["on"]}
    verdict = "XLA is not slower here" if on <= off else "XLA is slower here"
    return (f"With XLA a train step of the `{r['fusion']}` model takes {on:.1f} ms, without {off:.1f} ms "
            f"({off / on:.2f}x): {verdict}. Each encoder alone, forward and backward: "
            + "; ".join(f"{e['encoder']} {e['xla_ms']:.1f} vs {e['no_xla_ms']:.1f} ms" for e in r["encoders"])
            + f". The encoders account for {total:+.1f} ms of the {on - off:+.1f} ms step difference, most of it "
            f"in `{worst['encoder']}` ({worst['xla_minus_no_xla_ms']:+.1f} ms). Without XLA the top op types by self "
            f"time are {ops_off} (TensorFlow's oneDNN kernels on CPU); with XLA "
            f"{groups_on.get('compute', 0.0):.0%} of traced self time is in the Eigen pool running XLA:CPU's own "
            f"kernels, which for small convolutions on {common.machine()['cpus']} cores are slower than oneDNN's. "
            f"On a GPU (the `device` machine, when lent) the comparison is the one XLA is built for.")
