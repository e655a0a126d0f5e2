"""Bad specs: `load_spec` raises a SpecError naming the file and the key path, never anything else."""

import copy
import os

import pytest
import yaml

from robust_cases import SPEC_CASES
from mmkeras.errors import SpecError
from mmkeras.specs import load_spec
from mmkeras.testing import tiny_spec_dict


def merged(base, change):
    """`base` with the keys of `change` set (nested dicts merged, anything else replaced)."""
    out = copy.deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("case", SPEC_CASES, ids=[c.id for c in SPEC_CASES])
def test_spec_case(case, tmp_path):
    path = tmp_path / f"{case.id}.yaml"
    if isinstance(case.yaml, (str, bytes)):
        text = case.yaml
    else:
        text = yaml.safe_dump(merged(tiny_spec_dict(str(tmp_path / "manifest.csv")), case.yaml))
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(SpecError) as raised:
        load_spec(str(path))
    message = str(raised.value)
    assert case.expect in message and f"{case.id}.yaml" in message, message
    assert not os.path.exists(tmp_path / "owned")


def test_the_readme_table_is_current():
    import readme_table

    assert readme_table.main(["--check", os.path.join(os.path.dirname(__file__), "..", "..", "README.md")]) == 0
