"""scipy.special values kept on disk: the same bits as scipy's, read back by a new process."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

from mcinfra.model import distributions, special_values
from mcinfra.model.special_values import SpecialValueStore, special_value, stored

ARGUMENTS = [
    ("ndtri", (0.975,)),
    ("ndtri", (np.float64(0.025),)),
    ("ndtri", (np.array([0.0, 1e-300, 0.3, 0.5, 1.0, np.nan]),)),
    ("ndtr", (np.array([-np.inf, -38.0, -0.0, 0.0, 1.5, np.inf]),)),
    ("betainc", (2.5, 4.0, 0.3)),
]


@pytest.mark.parametrize(("name", "args"), ARGUMENTS)
def test_kept_values_are_scipys_bits(name, args):
    expected = getattr(scipy.special, name)(*args)
    for _ in range(2):  # computed, then read back
        value = special_value(name, *args)
        np.testing.assert_array_equal(np.asarray(value), np.asarray(expected))
        assert np.asarray(value).tobytes() == np.asarray(expected).tobytes()
        assert type(value) is type(expected)


def test_an_array_value_is_a_new_array_each_time():
    first = special_value("ndtri", np.array([0.1, 0.9]))
    first[:] = 0.0
    assert special_value("ndtri", np.array([0.1, 0.9]))[0] == scipy.special.ndtri(0.1)


def test_arguments_differing_in_type_shape_or_sign_of_zero_are_kept_apart():
    key = special_values._key
    assert key("ndtr", (0.0,)) != key("ndtr", (-0.0,))
    assert key("ndtr", (0.5,)) != key("ndtr", (np.array([0.5]),))
    assert key("ndtr", (np.array([0.5]),)) != key("ndtr", (np.array([[0.5]]),))
    assert key("ndtr", (1,)) != key("ndtr", (1.0,))
    assert key("ndtr", (0.5,)) != key("ndtri", (0.5,))


def test_only_the_listed_functions_are_kept():
    with pytest.raises(ValueError, match="'betaincinv' is not one of"):
        special_value("betaincinv", 2.0, 3.0, 0.5)


def test_a_new_store_reads_what_another_wrote(tmp_path):
    path = tmp_path / "values.pkl"
    keys = [special_values._key("ndtri", (p,)) for p in (0.1, 0.2)]
    writer = SpecialValueStore(path)
    for key, p in zip(keys, (0.1, 0.2), strict=True):
        writer.value(key, lambda p=p: scipy.special.ndtri(p))

    def must_not_compute():
        raise AssertionError("computed although kept")

    reader = SpecialValueStore(path)
    assert reader.value(keys[0], must_not_compute) == scipy.special.ndtri(0.1)
    assert reader.value(keys[1], must_not_compute) == scipy.special.ndtri(0.2)


def test_a_file_that_cannot_be_read_or_written_only_costs_the_computing(tmp_path):
    broken = tmp_path / "values.pkl"
    broken.write_bytes(b"not a pickle")
    assert SpecialValueStore(broken).value(b"k", lambda: 1.5) == 1.5
    blocked = tmp_path / "file"
    blocked.write_text("a file where the directory would be")
    store = SpecialValueStore(blocked / "values.pkl")
    assert store.value(b"k", lambda: 2.5) == 2.5
    assert store.value(b"k", lambda: 3.5) == 2.5  # kept in the process all the same


def test_a_failed_computation_keeps_nothing(tmp_path):
    path = tmp_path / "values.pkl"
    store = SpecialValueStore(path)

    def fails():
        raise ValueError("cannot tabulate")

    with pytest.raises(ValueError, match="cannot tabulate"):
        store.value(b"k", fails)
    assert not path.exists()
    assert store.value(b"k", lambda: 4.5) == 4.5


def test_a_kept_table_is_the_computed_one():
    pert = distributions.Pert(dist="pert", min=-0.12, mode=0.1945, max=0.28, shape=4.0)
    table = distributions.build_table(pert)
    assert not table.flags.writeable
    again = stored("table", pert.model_dump_json(), lambda: distributions._tabulate(pert))
    assert again.tobytes() == distributions._tabulate(pert).tobytes() == table.tobytes()


def test_another_scipy_gets_a_file_of_its_own(monkeypatch):
    stamp = special_values._stamp()
    monkeypatch.setattr(scipy, "__version__", scipy.__version__ + ".other")
    assert special_values._stamp() != stamp
