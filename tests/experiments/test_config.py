import dataclasses
import typing
from dataclasses import dataclass

import pytest

from neuralab.errors import NeuralabError
from neuralab.experiments import all_experiments
from neuralab.experiments.config import (
    COUNT,
    DECAY,
    FIELD_BOUNDS,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    Bounds,
    apply_overrides,
    parse_set_args,
)


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


@pytest.mark.parametrize("bounds, inside, outside", [
    (POSITIVE, [1e-9, 3, 1e6], [0, -1e-9]),
    (NON_NEGATIVE, [0, 2.5], [-1e-9]),
    (COUNT, [1, 7], [0, -3]),
    (FRACTION, [0, 0.5, 0.999], [1, -0.1]),
    (DECAY, [1, 1e-3], [0, 1.01]),
    (Bounds(0, 2), [0, 1, 2], [-1, 3]),
])
def test_bounds_admit_their_range_and_never_nan_or_inf(bounds, inside, outside):
    assert all(bounds.admits(v) for v in inside)
    assert not any(bounds.admits(v) for v in [*outside, float("nan"), float("inf"), -float("inf")])


def test_bounds_describe_themselves():
    assert [b.describe() for b in (POSITIVE, COUNT, FRACTION, DECAY)] == [
        "> 0", ">= 1", "in [0, 1)", "in (0, 1]"]


def _numeric_fields(config):
    """(name, is_integer) of every int or float field, ``X | None`` and tuples included."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        text = str(hints[f.name])
        if "int" in text or "float" in text:
            yield f.name, "float" not in text


def test_every_number_of_every_registered_config_has_bounds_that_its_default_meets():
    for exp in all_experiments():
        config = exp.make_config()  # checks the defaults
        for name, _ in _numeric_fields(config):
            assert name in FIELD_BOUNDS, f"{exp.name}.{name} has no entry in FIELD_BOUNDS"


def _just_outside(bounds: Bounds, integer: bool) -> list[float]:
    out = []
    if bounds.low is not None:
        out.append(bounds.low if bounds.low_open else bounds.low - (1 if integer else 1e-3))
    if bounds.high is not None:
        out.append(bounds.high if bounds.high_open else bounds.high + (1 if integer else 1e-3))
    return out


def _text(field_name: str, value: float, integer: bool, config) -> str:
    text = f"{int(value)}" if integer else f"{value!r}"
    current = getattr(config, field_name)
    if isinstance(current, tuple) and len(current) > 1:  # keep the count a fixed-length field needs
        return ",".join([text] + [str(v) for v in current[1:]])
    return text


def test_a_value_just_outside_its_bounds_stops_every_experiment_with_one_line():
    checked = 0
    for exp in all_experiments():
        config = exp.make_config()
        for name, integer in _numeric_fields(config):
            for bad in _just_outside(FIELD_BOUNDS[name], integer):
                with pytest.raises(NeuralabError, match=rf"^{name}=\S+ is out of range: ") as err:
                    exp.make_config({name: _text(name, bad, integer, config)})
                assert "\n" not in str(err.value)
                checked += 1
    assert checked > 400


def test_sizes_have_upper_bounds_that_fit_the_machine():
    """What used to be a MemoryError, an ImportError or a run for ever is one line now."""
    from neuralab.experiments import get_experiment

    for name, overrides, message in [
        ("cifar10-mlp-torch", {"hidden_units": "1000000000"},
         r"hidden_units=1000000000 is out of range: each value must be in \[1, 65536\]"),
        ("cifar10-mlp-scratch", {"threads": "100000"}, r"threads=100000 is out of range"),
        ("digits-mlp-torch", {"epochs": "1e23"}, r"epochs=1e\+23 is out of range: it must be "
                                                 r"in \(0, 10000\]"),
        ("palindrome-rnn", {"seq_length": "100000"}, r"seq_length=100000 is out of range"),
        ("digits-mlp-torch", {"batch_size": "1e400"}, r"expected int"),
        ("digits-mlp-torch", {"batch_size": "2.5e0"}, r"expected int"),
    ]:
        with pytest.raises(NeuralabError, match=message) as err:
            get_experiment(name).make_config(overrides)
        assert "\n" not in str(err.value)
    assert get_experiment("digits-mlp-torch").make_config({"batch_size": "2e3"}).batch_size == 2000


@pytest.mark.parametrize("name, value, message", [
    ("chars-cnn", "4,4", "widths=4,4 has 2 values; it takes exactly 3"),
    ("chars-cnn", "4,4,4,4", "widths=4,4,4,4 has 4 values; it takes exactly 3"),
    ("cifar10-fast", "", r"widths=\(empty\) has 0 values; it takes exactly 3"),
])
def test_fixed_length_tuples_say_how_many_values_they_take(name, value, message):
    from neuralab.experiments import get_experiment

    with pytest.raises(NeuralabError, match=message):
        get_experiment(name).make_config({"widths": value})
    assert get_experiment(name).make_config({"widths": "8,16,32"}).widths == (8, 16, 32)


def test_tuples_are_checked_element_by_element():
    with pytest.raises(NeuralabError, match=r"hidden=0 is out of range: each value must be "
                       r"in \[1, 65536\]"):
        apply_overrides(Cfg(), {"hidden": "100,0"})
    assert apply_overrides(Cfg(), {"hidden": "100,1"}).hidden == (100, 1)


def test_zero_where_zero_means_something():
    """0 threads keeps the libraries' defaults; lr_decay_every=0 never decays."""
    from neuralab.experiments import get_experiment

    assert get_experiment("cifar10-mlp-scratch").make_config({"threads": "0"}).threads == 0
    assert get_experiment("palindrome-rnn").make_config({"num_threads": "0"}).num_threads == 0
    assert get_experiment("chars-autoencoder-scratch").make_config(
        {"lr_decay_every": "0"}).lr_decay_every == 0


def test_field_notes_come_from_the_class_and_its_parents():
    from neuralab.experiments.config import describe_fields, field_comments

    @dataclass
    class Base:
        lr: float = 0.1  # per summed loss
        max_steps: int = 10

    @dataclass
    class Child(Base):
        max_steps: int = 20  # a new cap
        mode: str = "a"  # a | b

    assert field_comments(Child) == {"lr": "per summed loss", "max_steps": "a new cap",
                                     "mode": "a | b"}
    rows = {r["field"]: r for r in describe_fields(Child(lr=1729.6000000000001))}
    assert rows["lr"] == {"field": "lr", "type": "float", "value": "1729.6", "range": "",
                          "note": "per summed loss"}  # "lr" has no FIELD_BOUNDS entry
    assert (rows["max_steps"]["value"], rows["max_steps"]["range"]) == ("20", "in [1, 10000000]")
    assert rows["mode"]["value"] == "a"
