"""Executes the example notebooks end to end with the venv's Python kernel."""

import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOK_ENV = {
    "MMKERAS_NOTEBOOK_EPOCHS": "2",
    "MMKERAS_NOTEBOOK_EXAMPLES": "240",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}
_CHECK_PYTHON = "import sys; print(sys.prefix)"


def _check_kernelspec():
    """The `python3` kernelspec must start this interpreter (the venv's).

    ipykernel's spec says `python -m ipykernel_launcher`, and jupyter_client
    replaces a bare `python`/`python3` with `sys.executable`; a spec naming
    some other interpreter would run the notebook outside the venv.
    """
    spec = KernelSpecManager().get_kernel_spec("python3")
    exe = spec.argv[0]
    own = {"python", f"python{sys.version_info[0]}", "python%i.%i" % sys.version_info[:2]}
    assert exe in own or os.path.realpath(exe) == os.path.realpath(sys.executable), (
        f"kernelspec python3 ({spec.resource_dir}) runs {exe}, not {sys.executable}; "
        "run `python -m ipykernel install --sys-prefix` in the venv")


# Notebooks that show plots inline: at least this many PNG outputs, all of them together at most PLOT_BYTES.
INLINE_PLOTS = {"audio_features.ipynb": 1, "missing_modalities.ipynb": 3, "retrieval.ipynb": 3, "tfds.ipynb": 3}
PLOT_BYTES = 600_000


@pytest.mark.parametrize("name", ["quickstart.ipynb", "custom_encoder.ipynb"] + sorted(INLINE_PLOTS))
def test_notebook_runs(name, tmp_path, monkeypatch):
    for key, value in NOTEBOOK_ENV.items():
        monkeypatch.setenv(key, value)  # the kernel inherits this process's environment
    _check_kernelspec()
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        f"{name} is committed with outputs; clear them"
    nb.cells.append(nbformat.v4.new_code_cell(_CHECK_PYTHON))

    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}})
    start = time.monotonic()
    try:
        client.execute()  # raises CellExecutionError on the first failing cell
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f"{name} failed:\n{e}")
    elapsed = time.monotonic() - start

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors
    kernel_prefix = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    assert kernel_prefix == sys.prefix, f"the kernel ran in {kernel_prefix!r}, not in {sys.prefix!r}"
    assert elapsed < 90, f"{name} took {elapsed:.0f}s"
    images = [o["data"]["image/png"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) >= INLINE_PLOTS.get(name, 0), f"{name} shows {len(images)} plots inline"
    assert sum(len(i) for i in images) <= PLOT_BYTES, f"{name}'s plots take {sum(len(i) for i in images)} bytes"
