import pytest

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
    with pytest.raises(KeyError, match=r"Unknown thing 'b'. Known: \['a'\]"):
        r.get("b")
