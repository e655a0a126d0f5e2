import pytest

from mmkeras.encoders.registry import ENCODERS
from mmkeras.registry import Registry


def test_register_and_get():
    r = Registry("thing")

    @r.register("a")
    def a():
        return 1

    assert r.get("a") is a
    assert "a" in r and r.names() == ["a"]


def test_duplicate_and_unknown_names():
    r = Registry("thing")
    r.register("a")(int)
    with pytest.raises(ValueError, match="already registered"):
        r.register("a")(float)
    r.register("a", override=True)(float)
    assert r.get("a") is float
    with pytest.raises(ValueError, match=r"Unknown thing 'b'. Known: \['a'\]"):
        r.get("b")


def test_temporarily_registers_then_restores():
    r = Registry("thing")
    r.register("a")(int)
    with r.temporarily("b", float) as registered:
        assert registered is float and r.get("b") is float
    assert r.names() == ["a"]
    with r.temporarily("a", str):
        assert r.get("a") is str
    assert r.get("a") is int
    with pytest.raises(RuntimeError):
        with r.temporarily("c", bytes):
            raise RuntimeError("the body fails")
    assert "c" not in r


def test_encoder_registry_errors_are_value_errors():
    with pytest.raises(ValueError, match="Unknown modality 'smell'"):
        ENCODERS.names_for("smell")
    with pytest.raises(ValueError, match="Unknown numeric encoder 'nope'. Known: .*'dense'"):
        ENCODERS.get("numeric", "nope")
    with ENCODERS.temporarily("numeric", "doubled", lambda x, spec, feature: 2 * x):
        assert "doubled" in ENCODERS.names_for("numeric")
    assert "doubled" not in ENCODERS.names_for("numeric")
