from dataclasses import dataclass

import pytest

from neuralab.errors import NeuralabError
from neuralab.experiments.config import apply_overrides, parse_set_args


@dataclass
class Cfg:
    lr: float = 0.1
    steps: int = 10
    hidden: tuple[int, ...] = (100,)
    flip: bool = False
    name: str = "a"
    limit: float | None = None


def test_values_are_parsed_by_field_type():
    cfg = apply_overrides(Cfg(), parse_set_args(
        ["lr=1e-3", "steps=2e3", "hidden=256,128", "flip=yes", "name=b", "limit=none"]))
    assert cfg == Cfg(lr=1e-3, steps=2000, hidden=(256, 128), flip=True, name="b", limit=None)
    assert apply_overrides(Cfg(), {"hidden": ""}).hidden == ()
    assert apply_overrides(Cfg(), {"limit": "2.5"}).limit == 2.5


@pytest.mark.parametrize("items, message", [
    (["lr"], "malformed --set 'lr'"),
    (["=3"], "malformed --set"),
    (["nope=1"], "unknown config key 'nope'"),
    (["steps=ten"], "expected int"),
    (["flip=maybe"], "expected bool"),
])
def test_bad_overrides_are_one_line_errors(items, message):
    with pytest.raises(NeuralabError, match=message) as err:
        apply_overrides(Cfg(), parse_set_args(items))
    assert "\n" not in str(err.value)
