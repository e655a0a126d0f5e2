"""The shared test harness: tiny demo data and specs, the doctest namespace, and reusable checks.

Used by `tests/` and by the doctests of the package (see ARCHITECTURE.md).
Nothing in the package imports it.

* `three_ways(fn, examples)`: a tf.data function eagerly, mapped unbatched and mapped batched.
* `layer_round_trip(layer, inputs)`: config -> from_config -> config, and `.keras` save/load.
* `tiny_spec_dict(manifest)`, `tiny_demo(tmp_dir, n=64)`: demo data and a fast 1-epoch spec;
  `retrieval_spec_dict(manifest)`: the same as picture <-> caption retrieval.
* `doctest_namespace(tmp_dir)`: the names every `Example:` block in the package may use.
"""

from mmkeras.testing.checks import layer_round_trip, three_ways
from mmkeras.testing.fixtures import doctest_namespace, retrieval_spec_dict, tiny_demo, tiny_spec_dict

__all__ = ["three_ways", "layer_round_trip", "tiny_spec_dict", "retrieval_spec_dict", "tiny_demo",
           "doctest_namespace"]
