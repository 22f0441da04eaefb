"""SIPmath 3.0 libraries: HDR_2_0, the metalog, the Gaussian copula, writing and reading."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from mcinfra.sipmath.library import (
    ArraySip,
    CopulaRef,
    CorrelationMatrix,
    GaussianCopula,
    HdrStream,
    IndexStream,
    Library,
    LibraryError,
    MetalogSip,
    StreamRef,
    library_document,
    library_json,
)
from mcinfra.sipmath.reading import parse_library, read_library
from mcinfra.sipmath.trials import (
    gaussian_copula_uniforms,
    hdr_uniforms,
    library_trials,
    metalog_quantile,
)

# -- independent implementations, straight from the standard's text (Python ints, scipy) --


def hdr_reference(counter: int, entity: int, var_id: int, seed3: int = 0, seed4: int = 0):
    """HDR_2_0 in Python's unbounded integers; returns the 32-bit integer and the uniform."""
    s1 = (
        counter * 2499997 + var_id * 1800451 + entity * 2000371 + seed3 * 1796777 + seed4 * 2299603
    ) % 7450589
    s2 = (
        counter * 2246527 + var_id * 2399993 + entity * 2100869 + seed3 * 1918303 + seed4 * 1624729
    ) % 7450987
    t1 = ((999999999999989 % (s1 * 4658 + 7450581)) * 383) % 99991
    t2 = ((999999999999989 % (s2 * 7580 + 7560584)) * 17669) % 7440893
    k = ((t1 * 7440893 + t2) * 1343) % 2**32
    return k, (k + 0.5) / 2**32


def metalog_reference(a, y, lower=None, upper=None):
    """The metalog quantile function at one probability, term by term."""
    logit = math.log(y / (1 - y))
    c = y - 0.5
    basis = [1.0, logit, c * logit, c]
    for j in range(5, len(a) + 1):
        basis.append(c ** ((j - 1) // 2) if j % 2 else c ** (j // 2 - 1) * logit)
    m = sum(aj * bj for aj, bj in zip(a, basis, strict=False))
    if lower is not None and upper is not None:
        return (lower + upper * math.exp(m)) / (1 + math.exp(m))
    if lower is not None:
        return lower + math.exp(m)
    if upper is not None:
        return upper - math.exp(-m)
    return m


# -- HDR_2_0 ---------------------------------------------------------------------------------


def test_hdr_reproduces_the_published_test_vector():
    u = hdr_uniforms([1, 2, 3], entity=1, var_id=1, seed3=1, seed4=1)
    published = [0.017076639574952, 0.635042575071566, 0.110189726925455]
    assert np.round(u, 15).tolist() == published


LARGE_COUNTERS = [
    10**9 - 1,
    10**9,
    10**9 + 7,
    3_602_883_000,  # counter * 2499997 passes 2**53 here: floats would start to round
    10**12,
    3_689_348_814_741,  # counter * 2499997 overflows int64 without the reduction
    10**15,
    2**62,
    2**63 - 1,
]


@pytest.mark.parametrize("seeds", [(1, 1, 1, 1), (9039920, 4, 0, 0), (10**7, 123456, 98765, 2**40)])
def test_hdr_is_integer_exact_for_large_counters(seeds):
    entity, var_id, seed3, seed4 = seeds
    rng = np.random.default_rng(5)
    counters = LARGE_COUNTERS + rng.integers(10**9 - 10**6, 10**9 + 10**6, 200).tolist()
    got = hdr_uniforms(np.array(counters), entity, var_id, seed3, seed4)
    expected = [hdr_reference(i, entity, var_id, seed3, seed4) for i in counters]
    # the uniform determines its 32-bit integer: equal floats mean equal integers
    assert got.tolist() == [u for _, u in expected]
    assert ((got * 2**32 - 0.5).astype(np.int64) == [k for k, _ in expected]).all()


def test_hdr_refuses_negative_counters():
    with pytest.raises(ValueError, match="counters must be at least 0, got -1"):
        hdr_uniforms([3, -1], 1, 1)


# -- metalog ---------------------------------------------------------------------------------

Y = np.array([1e-9, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999, 1 - 1e-9])


def test_two_term_metalog_is_a_logistic():
    mu, s = 3.0, 0.4
    expected = mu + s * np.log(Y / (1 - Y))
    np.testing.assert_allclose(metalog_quantile([mu, s], Y), expected, rtol=1e-14)


def test_semi_bounded_metalogs_are_log_logistic():
    mu, s = 0.5, 0.3
    odds = Y / (1 - Y)
    np.testing.assert_allclose(
        metalog_quantile([mu, s], Y, lower=2.0), 2.0 + math.exp(mu) * odds**s, rtol=1e-13
    )
    np.testing.assert_allclose(
        metalog_quantile([mu, s], Y, upper=9.0), 9.0 - math.exp(-mu) * odds**-s, rtol=1e-13
    )


def test_bounded_metalog_is_a_logistic_between_its_bounds():
    mu, s, lower, upper = 0.2, 1.5, 10.0, 30.0
    m = mu + s * np.log(Y / (1 - Y))
    expected = lower + (upper - lower) / (1 + np.exp(-m))
    got = metalog_quantile([mu, s], Y, lower, upper)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    # a misplaced parenthesis, bl + bu e^M / (1 + e^M), would overshoot the upper bound
    assert (got >= lower).all() and (got <= upper).all()
    misplaced = lower + upper * np.exp(m) / (1 + np.exp(m))
    assert misplaced[-1] == pytest.approx(lower + upper) and got[-1] == pytest.approx(upper)


def test_bounded_metalog_stays_finite_far_in_the_tails():
    got = metalog_quantile([0.0, 800.0], np.array([1e-9, 0.5, 1 - 1e-9]), 1.0, 2.0)
    assert got.tolist() == [1.0, 1.5, 2.0]


@pytest.mark.parametrize("terms", [2, 3, 4, 5, 6, 9, 16])
@pytest.mark.parametrize(
    ("lower", "upper"), [(None, None), (-1.0, None), (None, 50.0), (-1.0, 50.0)]
)
def test_metalog_basis_matches_the_standards_definition(terms, lower, upper):
    a = np.random.default_rng(terms).normal(0, 0.5, terms)
    a[0], a[1] = 1.0, 0.8
    got = metalog_quantile(a, Y, lower, upper)
    expected = [metalog_reference(a.tolist(), y, lower, upper) for y in Y.tolist()]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# -- Gaussian copula -------------------------------------------------------------------------


def test_copula_uniforms_carry_the_correlation():
    n = 200_000
    counters = np.arange(1, n + 1)
    u = np.array([hdr_uniforms(counters, 77, v) for v in (1, 2, 3)])
    matrix = np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]])
    layers = gaussian_copula_uniforms(u, matrix)
    scores = norm.ppf(layers)
    sample = np.corrcoef(scores)
    # the standard error of a sample correlation is about (1 - rho**2) / sqrt(n)
    assert np.abs(sample - matrix).max() < 5 / math.sqrt(n)
    # layer 1 is its stream, unchanged but for rounding through Phi(Phi^-1(u))
    np.testing.assert_allclose(layers[0], u[0], rtol=1e-12)


# -- a library written by hand in the standard's layout ---------------------------------------


def hand_written_library() -> dict:
    """Two HDR_2_0 streams under a Gaussian copula (matrix given as one triangle)."""
    return {
        "name": "Hand written",
        "objectType": "sipModel",
        "libraryType": "SIPmath_3_0",
        "dateCreated": "2026-01-31",
        "version": "1",
        "provenance": "written by hand for a test",
        "globalVariables": [
            {
                "name": "correlations",
                "value": {
                    "columns": ["Demand", "Price"],
                    "rows": ["Demand", "Price"],
                    "matrix": [
                        {"row": "Demand", "col": "Demand", "value": 1},
                        {"row": "Demand", "col": "Price", "value": -0.65},
                        {"row": "Price", "col": "Price", "value": 1},
                    ],
                },
            }
        ],
        "U01": {
            "rng": [
                {
                    "name": "hdr1",
                    "function": "HDR_2_0",
                    "arguments": {
                        "counter": "PM_Index",
                        "entity": 424242,
                        "varId": 1,
                        "seed3": 3,
                        "seed4": 0,
                    },
                },
                {
                    "name": "hdr2",
                    "function": "HDR_2_0",
                    "arguments": {
                        "counter": "PM_Index",
                        "entity": 424242,
                        "varId": 2,
                        "seed3": 3,
                        "seed4": 0,
                    },
                },
                {"name": "hdr3", "function": "HDR_2_0", "arguments": {"entity": 9, "varId": 5}},
                {"name": "index", "function": "Index", "arguments": {"counter": "PM_Index"}},
            ],
            "copula": [
                {
                    "name": "Gaussian",
                    "function": "GaussianCopula",
                    "arguments": {
                        "correlationMatrix": {"type": "globalVariables", "value": "correlations"},
                        "rng": ["hdr1", "hdr2"],
                    },
                    "copulaLayer": ["cl1", "cl2"],
                }
            ],
        },
        "sips": [
            {
                "name": "Demand",
                "ref": {"source": "copula", "name": "Gaussian", "copulaLayer": "cl1"},
                "function": "Metalog_1_0",
                "arguments": {"aCoefficients": [100.0, 12.0, 3.0, -4.0], "lowerBound": 0},
            },
            {
                "name": "Price",
                "ref": {"source": "copula", "name": "Gaussian", "copulaLayer": "cl2"},
                "function": "Metalog_1_0",
                "arguments": {
                    "aCoefficients": [0.1, 0.9, -0.2],
                    "lowerBound": 5,
                    "upperBound": 15,
                },
            },
            {
                "name": "Price",
                "ref": {"source": "copula", "name": "Gaussian", "copulaLayer": "cl2"},
                "environment": "ExcelFrontline",
                "function": "PsiNormal",
                "arguments": {"mean": 0, "stdDev": 1},
            },
            {
                "name": "Cost",
                "ref": {"source": "rng", "name": "hdr3"},
                "function": "Metalog_1_0",
                "arguments": {"aCoefficients": [50.0, 5.0], "upperBound": 90},
            },
            {
                "name": "Stored",
                "ref": {"source": "rng", "name": "index"},
                "function": "SIP_Array",
                "arguments": {"type": "array", "value": [1.5, -2, 0.1, 7]},
                "metadata": {"mean": 1.65},
            },
        ],
    }


@pytest.fixture
def library_file(tmp_path):
    path = tmp_path / "hand.SIPmath"
    path.write_text(json.dumps(hand_written_library(), indent=2), encoding="utf-8")
    return path


def test_trials_of_a_hand_written_library_match_an_independent_evaluation(library_file):
    library = read_library(library_file)
    got = library_trials(library, ["Demand", "Price", "Cost", "Stored"], 1, 3)
    chol = np.linalg.cholesky(np.array([[1.0, -0.65], [-0.65, 1.0]]))
    for trial in (1, 2, 3):
        u = [hdr_reference(trial, 424242, v, 3, 0)[1] for v in (1, 2)]
        layers = norm.cdf(chol @ norm.ppf(u))
        expected = [
            metalog_reference([100.0, 12.0, 3.0, -4.0], layers[0], lower=0),
            metalog_reference([0.1, 0.9, -0.2], layers[1], lower=5, upper=15),
            metalog_reference([50.0, 5.0], hdr_reference(trial, 9, 5)[1], upper=90),
            [1.5, -2, 0.1, 7][trial - 1],
        ]
        np.testing.assert_allclose(got[:, trial - 1], expected, rtol=1e-12)


def test_trials_do_not_depend_on_the_range_computed_together(library_file):
    library = read_library(library_file)
    names = ["Demand", "Price", "Cost"]
    whole = library_trials(library, names, 1, 1000)
    parts = np.hstack(
        [library_trials(library, names, 1, 1), library_trials(library, names, 2, 999)]
    )
    assert whole.tobytes() == parts.tobytes()
    assert library_trials(library, names, 10**9, 4).shape == (3, 4)


def test_stored_trials_beyond_the_array_are_refused(library_file):
    library = read_library(library_file)
    with pytest.raises(LibraryError, match=r"SIP 'Stored': holds 4 trials; trials 3 to 5 were"):
        library_trials(library, ["Stored"], 3, 3)


# A library written by Analytic Solver: ProbabilityManagement.org's "Development Time
# Library" (chancecalc, examples/Development_Time_Library.SIPmath): its SIPs' metadata
# Trial1-Trial3 are the first three trials that tool computed.
DEVELOPMENT_TIME = {
    "Accounts": (
        [9.872717622, 1.678242357, 2.54967822, 3.535388319, -13.40905029],
        [5.91064824323855, 3.99951401423695, 3.61593085127843],
    ),
    "Products": (
        [10.28359942, 1.433048092, 1.737463084, 3.927285373, -13.45782811],
        [4.81850430027545, 16.264999616127, 9.21182344011462],
    ),
    "Orders": (
        [8.526657058, 4.390832871, 7.645594813, -11.34424622, -27.90451926],
        [8.84993813887317, 5.73877017205265, 7.90854997496018],
    ),
    "Fulfillment": (
        [8.93145879, 3.863446641, 6.494528709, -8.804090192, -25.50440804],
        [6.7522436646553, 11.4933053690752, 5.97047076730257],
    ),
}


def test_trials_equal_those_another_tool_published():
    labels = list(DEVELOPMENT_TIME)
    cells = [{"row": r, "col": c, "value": 0.0} for i, r in enumerate(labels) for c in labels[i:]]
    for cell in cells:
        if cell["row"] == cell["col"]:
            cell["value"] = 1.0
        elif {cell["row"], cell["col"]} == {"Products", "Fulfillment"}:
            cell["value"] = 0.75
    streams = [
        {
            "name": f"HDR{v}",
            "function": "HDR_2_0",
            "arguments": {
                "counter": "PM_Index",
                "entity": 9039920,
                "varId": v,
                "seed3": 0,
                "seed4": 0,
            },
        }
        for v in (4, 5, 6, 7, 8)
    ]
    sips = [
        {
            "name": name,
            "ref": {"source": "copula", "name": "Gaussian", "copulaLayer": f"cl{k + 1}"},
            "function": "Metalog_1_0",
            "arguments": {"aCoefficients": a},
        }
        for k, (name, (a, _)) in enumerate(DEVELOPMENT_TIME.items())
    ]
    sips.append(
        {
            "name": "Marketing",
            "ref": {"source": "rng", "name": "HDR8"},
            "function": "Metalog_1_0",
            "arguments": {"aCoefficients": DEVELOPMENT_TIME["Accounts"][0]},
        }
    )
    document = {
        "name": "Development Time Library",
        "globalVariables": [
            {
                "name": "correlationMatrixValue",
                "value": {"columns": labels, "rows": labels, "matrix": cells},
            }
        ],
        "U01": {
            "rng": streams,
            "copula": [
                {
                    "name": "Gaussian",
                    "function": "GaussianCopula",
                    "arguments": {
                        "correlationMatrix": {
                            "type": "globalVariables",
                            "value": "correlationMatrixValue",
                        },
                        "rng": ["HDR4", "HDR5", "HDR6", "HDR7"],
                    },
                    "copulaLayer": ["cl1", "cl2", "cl3", "cl4"],
                }
            ],
        },
        "sips": sips,
    }
    library = parse_library(document)
    got = library_trials(library, [*DEVELOPMENT_TIME, "Marketing"], 1, 3)
    published = [trials for _, trials in DEVELOPMENT_TIME.values()]
    published.append([4.97377773402723, 5.26303264347232, 11.3668582781926])
    np.testing.assert_allclose(got, published, rtol=1e-12)


# -- writing and reading ---------------------------------------------------------------------


def written_library() -> Library:
    values = np.random.default_rng(1).lognormal(0, 2, 500)
    values[:3] = [0.0, 1.0, 1e-300]
    return Library(
        name="Round trip",
        sips=(
            ArraySip("stored", values, StreamRef("index"), {"mean": float(values.mean())}),
            ArraySip("flag", np.array([0.0, 1.0, 1.0, 0.0] * 125), StreamRef("index")),
            MetalogSip("x", (1.0, 0.5, 0.1), CopulaRef("gc", "a"), lower=0.0),
            MetalogSip("y", (2.0, 0.3), CopulaRef("gc", "b"), lower=1.0, upper=4.0),
            MetalogSip("z", (2.0, 0.3, 0.0, 0.1), StreamRef("h3"), upper=4.0),
        ),
        streams=(
            IndexStream("index"),
            HdrStream("h1", 5, 1),
            HdrStream("h2", 5, 2, seed3=7),
            HdrStream("h3", 5, 3, seed4=11),
        ),
        copulas=(GaussianCopula("gc", "m", ("h1", "h2"), ("a", "b")),),
        matrices=(CorrelationMatrix("m", ("A", "B"), ((1.0, 0.4), (0.4, 1.0))),),
        provenance="test",
        date_created="2026-12-06",
        version="1",
    )


def test_written_json_has_the_standards_layout(tmp_path):
    document = json.loads(library_json(written_library()))
    assert list(document) == [
        "name",
        "objectType",
        "libraryType",
        "dateCreated",
        "version",
        "provenance",
        "globalVariables",
        "U01",
        "sips",
    ]
    assert document["objectType"] == "sipModel" and document["libraryType"] == "SIPmath_3_0"
    assert document["globalVariables"] == [
        {
            "name": "m",
            "value": {
                "columns": ["A", "B"],
                "rows": ["A", "B"],
                "matrix": [
                    {"row": "A", "col": "A", "value": 1.0},
                    {"row": "A", "col": "B", "value": 0.4},
                    {"row": "B", "col": "B", "value": 1.0},
                ],
            },
        }
    ]
    assert document["U01"]["rng"][:2] == [
        {"name": "index", "function": "Index", "arguments": {"counter": "PM_Index"}},
        {
            "name": "h1",
            "function": "HDR_2_0",
            "arguments": {"counter": "PM_Index", "entity": 5, "varId": 1, "seed3": 0, "seed4": 0},
        },
    ]
    assert document["U01"]["copula"] == [
        {
            "name": "gc",
            "function": "GaussianCopula",
            "arguments": {
                "correlationMatrix": {"type": "globalVariables", "value": "m"},
                "rng": ["h1", "h2"],
            },
            "copulaLayer": ["a", "b"],
        }
    ]
    stored, flag, x, y, _ = document["sips"]
    assert stored["ref"] == {"source": "rng", "name": "index"}
    assert stored["function"] == "SIP_Array" and stored["arguments"]["type"] == "array"
    assert flag["arguments"]["value"][:4] == [0, 1, 1, 0]
    assert x == {
        "name": "x",
        "ref": {"source": "copula", "name": "gc", "copulaLayer": "a"},
        "function": "Metalog_1_0",
        "arguments": {"aCoefficients": [1.0, 0.5, 0.1], "lowerBound": 0.0},
    }
    assert y["arguments"] == {"aCoefficients": [2.0, 0.3], "lowerBound": 1.0, "upperBound": 4.0}
    # each array on one line
    text = library_json(written_library())
    assert '"value": [0.0, 1.0, 1e-300, ' in text and '"value": [0, 1, 1, 0, 0, 1, ' in text
    assert json.loads(text) == json.loads(json.dumps(library_document_plain(written_library())))


def library_document_plain(library: Library) -> dict:
    document = library_document(library)
    for entry in document["sips"]:
        if entry["function"] == "SIP_Array":
            entry["arguments"]["value"] = entry["arguments"]["value"].tolist()
    return document


def test_a_written_library_reads_back_the_same(tmp_path):
    library = written_library()
    path = tmp_path / "lib.SIPmath"
    path.write_text(library_json(library), encoding="utf-8")
    back = read_library(path)
    assert back.path == str(path)
    assert (back.name, back.provenance, back.date_created, back.version) == (
        "Round trip",
        "test",
        "2026-12-06",
        "1",
    )
    assert back.streams == library.streams and back.copulas == library.copulas
    assert back.matrices == library.matrices
    for before, after in zip(library.sips, back.sips, strict=True):
        if isinstance(before, ArraySip):
            assert after.values.tobytes() == before.values.tobytes()
            assert after.metadata == before.metadata
        else:
            assert after == before
    names = [s.name for s in library.sips]
    assert library_trials(back, names, 1, 50).tobytes() == (
        library_trials(library, names, 1, 50).tobytes()
    )


def test_a_non_finite_trial_is_not_written():
    library = Library("bad", (ArraySip("v", np.array([1.0, np.nan])),))
    with pytest.raises(ValueError, match="SIP 'v' holds a value that is not finite"):
        library_json(library)


# -- the reader's errors ---------------------------------------------------------------------


def edit(path: list, value=None, delete: bool = False):
    """A hand-written library with the value at ``path`` replaced (or deleted)."""

    def apply(document):
        target = document
        for step in path[:-1]:
            target = target[step]
        if delete:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return document

    return apply


BAD_LIBRARIES = [
    (edit(["name"], delete=True), "name: missing"),
    (edit(["libraryType"], "SIPmath_2_0"), 'libraryType: "SIPmath_2_0" is not supported'),
    (edit(["sips"], delete=True), "sips: missing"),
    (edit(["sips"], {"a": 1}), 'sips: expected a list, got {"a": 1}'),
    (
        edit(["sips", 0, "function"], "Beta_1_0"),
        'sips[0].function: unsupported SIP function "Beta_1_0"; mcinfra evaluates SIP_Array '
        "and Metalog_1_0",
    ),
    (
        edit(["U01", "rng", 2, "function"], "Mersenne"),
        'U01.rng[2].function: unsupported random number generator "Mersenne"; mcinfra '
        "generates HDR_2_0 and Index",
    ),
    (
        edit(["U01", "rng", 0, "arguments", "seed3"], {"type": "parameter", "name": "Serial"}),
        'U01.rng[0].arguments.seed3: is the spreadsheet parameter "Serial"; mcinfra needs its '
        "value",
    ),
    (
        edit(["U01", "rng", 0, "arguments", "entity"], 1.5),
        "U01.rng[0].arguments.entity: expected an integer, got 1.5",
    ),
    (
        edit(["U01", "rng", 0, "arguments", "varId"], delete=True),
        "U01.rng[0].arguments.varId: missing",
    ),
    (
        edit(["U01", "rng", 0, "arguments", "counter"], "PM_Trial"),
        'U01.rng[0].arguments.counter: unsupported counter "PM_Trial"',
    ),
    (
        edit(["U01", "copula", 0, "function"], "SIP_Array"),
        'U01.copula[0].function: unsupported copula "SIP_Array"; mcinfra evaluates GaussianCopula',
    ),
    (
        edit(["U01", "copula", 0, "arguments", "rng", 1], "hdr7"),
        "U01.copula[0].arguments.rng[1]: no stream named 'hdr7' in U01.rng",
    ),
    (
        edit(["U01", "copula", 0, "arguments", "rng", 1], "index"),
        "U01.copula[0].arguments.rng[1]: 'index' is an Index stream; uniforms come from HDR_2_0",
    ),
    (
        edit(["U01", "copula", 0, "copulaLayer"], ["cl1"]),
        "U01.copula[0]: 2 streams in arguments.rng and 1 layers in copulaLayer for a 2 x 2",
    ),
    (
        edit(["U01", "copula", 0, "arguments", "correlationMatrix", "value"], "correlation"),
        "no global variable named 'correlation' (did you mean 'correlations'?)",
    ),
    (
        edit(["globalVariables", 0, "value", "matrix", 1, "value"], 1.2),
        "globalVariables[0].value.matrix: (Demand, Price) is 1.2, outside [-1, 1]",
    ),
    (
        edit(["globalVariables", 0, "value", "matrix", 1, "col"], "Prise"),
        "globalVariables[0].value.matrix[1].col: 'Prise' is not a row of the matrix (did you "
        "mean 'Price'?)",
    ),
    (
        edit(
            ["globalVariables", 0, "value", "matrix"],
            [{"row": "Price", "col": "Price", "value": 1}],
        ),
        "globalVariables[0].value.matrix: no value for (Demand, Price)",
    ),
    (
        edit(["globalVariables", 0, "value", "matrix", 0, "value"], 0.9),
        "globalVariables[0].value.matrix: diagonal (Demand, Demand) is 0.9, not 1",
    ),
    (
        edit(["globalVariables", 0, "value", "columns"], ["Demand", "Cost"]),
        "globalVariables[0].value.columns:",
    ),
    (
        edit(["sips", 0, "ref", "copulaLayer"], "cl3"),
        "sips[0].ref.copulaLayer: copula 'Gaussian' has no layer 'cl3' (did you mean 'cl2'?); "
        "its layers are cl1, cl2",
    ),
    (
        edit(["sips", 3, "ref", "name"], "hdr4"),
        "sips[3].ref.name: no stream named 'hdr4' in U01.rng (did you mean 'hdr3'?)",
    ),
    (
        edit(["sips", 0, "ref", "source"], "table"),
        "sips[0].ref.source: expected 'rng' or 'copula', got \"table\"",
    ),
    (
        edit(["sips", 0, "arguments", "aCoefficients"], [1.0]),
        "sips[0].arguments.aCoefficients: 1 coefficients; a metalog has 2 to 16",
    ),
    (
        edit(["sips", 0, "arguments", "aCoefficients", 1], "12"),
        'sips[0].arguments.aCoefficients[1]: expected a number, got "12"',
    ),
    (
        edit(["sips", 1, "arguments", "upperBound"], 5),
        "sips[1].arguments: lowerBound 5.0 must be below upperBound 5.0",
    ),
    (
        edit(["sips", 4, "arguments", "type"], "csv"),
        'sips[4].arguments.type: unsupported SIP_Array type "csv"; mcinfra reads trials '
        "stored in the library (type 'array')",
    ),
    (
        edit(["sips", 4, "arguments", "value", 2], None),
        "sips[4].arguments.value[2]: expected a number, got null",
    ),
    (
        edit(["sips", 4, "arguments", "value", 1], True),
        "sips[4].arguments.value[1]: expected a number, got true",
    ),
    (edit(["sips", 4, "arguments", "value"], []), "sips[4].arguments.value: holds no trials"),
    (edit(["sips", 3, "name"], "Demand"), "sips[3].name: a second SIP named 'Demand'"),
]


@pytest.mark.parametrize(("change", "message"), BAD_LIBRARIES)
def test_a_bad_library_is_refused_naming_the_file_and_key(tmp_path, change, message):
    path = tmp_path / "bad.SIPmath"
    path.write_text(json.dumps(change(copy.deepcopy(hand_written_library()))), encoding="utf-8")
    with pytest.raises(LibraryError) as caught:
        read_library(path)
    assert str(caught.value).startswith(f"SIPmath library {path}: ")
    assert message in str(caught.value)


def test_a_matrix_that_is_not_positive_definite_is_refused():
    document = hand_written_library()
    document["globalVariables"][0]["value"] = {
        "columns": ["a", "b", "c"],
        "rows": ["a", "b", "c"],
        "matrix": [
            {"row": r, "col": c, "value": 1.0 if r == c else (0.9 if "a" in r + c else -0.9)}
            for i, r in enumerate("abc")
            for c in "abc"[i:]
        ],
    }
    document["U01"]["copula"][0]["arguments"]["rng"] = ["hdr1", "hdr2", "hdr3"]
    document["U01"]["copula"][0]["copulaLayer"] = ["cl1", "cl2", "cl3"]
    with pytest.raises(LibraryError, match="matrix: is not positive definite"):
        parse_library(document, "lib.SIPmath")


def test_a_missing_library_is_refused(tmp_path):
    from mcinfra.errors import UsageError

    assert issubclass(LibraryError, UsageError)  # exit status 2 on the command line
    path = tmp_path / "nowhere.SIPmath"
    with pytest.raises(LibraryError, match=f"SIPmath library {path}: cannot read it: No such file"):
        read_library(path)


def test_malformed_json_is_refused_with_its_line(tmp_path):
    path = tmp_path / "broken.SIPmath"
    path.write_text('{\n  "name": "x",\n  "sips": [\n}\n', encoding="utf-8")
    with pytest.raises(
        LibraryError, match=r"broken.SIPmath: not valid JSON: .* \(line 4, column 1\)"
    ):
        read_library(path)


def test_nan_is_no_json_number(tmp_path):
    path = tmp_path / "nan.SIPmath"
    text = json.dumps(hand_written_library()).replace('"value": [1.5, -2', '"value": [NaN, -2')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LibraryError, match=r"nan\.SIPmath: not valid JSON: NaN is no JSON number"):
        read_library(path)
    document = hand_written_library()
    document["sips"][4]["metadata"]["mean"] = math.inf
    with pytest.raises(LibraryError, match=r"sips\[4\]\.metadata: holds NaN or Infinity"):
        parse_library(document)


def test_a_library_that_is_not_an_object_is_refused():
    with pytest.raises(LibraryError, match=r"SIPmath library x: expected an object, got \[1\]"):
        parse_library([1], "x")


def test_an_unknown_sip_name_suggests_the_closest(library_file):
    library = read_library(library_file)
    with pytest.raises(
        LibraryError,
        match=r"sips: no SIP named 'demand' \(did you mean 'Demand'\?\); its SIPs are Demand, "
        r"Price, Cost, Stored",
    ):
        library.sip("demand")
    with pytest.raises(LibraryError, match="no SIP named 'Demand '"):
        library_trials(library, ["Price", "Demand "], 1, 2)


def test_environment_forms_and_unused_global_variables_are_skipped(library_file):
    document = hand_written_library()
    document["globalVariables"].append({"name": "notes", "value": [{"anything": 1}]})
    library = parse_library(document)
    assert [s.name for s in library.sips] == ["Demand", "Price", "Cost", "Stored"]
    assert [m.name for m in library.matrices] == ["correlations"]


# -- fuzzed libraries ------------------------------------------------------------------------

HOSTILE = st.one_of(
    st.sampled_from(
        [float("nan"), float("inf"), -float("inf"), 1e308, -1e308, -0.0, 0.0, 5e-324, -1.0,
         1.0, 2.0, 0, -1, 10**30, 10**400, True, None, "", "x", "1e6", [], [1, 2], [None], {},
         {"a": 1}, {"type": "parameter", "name": "p"}]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.text(max_size=10),
)  # fmt: skip


def _paths(tree, prefix=()):
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _paths(value, (*prefix, i))


LIBRARY_PATHS = [p for p in _paths(hand_written_library()) if p]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(LIBRARY_PATHS), HOSTILE, st.booleans()), min_size=1, max_size=3
    )
)
@example(edits=[(("globalVariables", 0, "value", "matrix", 1, "row"), [], False)])
@example(edits=[(("sips", 3, "arguments", "aCoefficients", 0), 10**400, False)])
@example(edits=[(("sips", 4, "metadata", "mean"), float("nan"), False)])
def test_any_mutation_of_a_library_is_read_or_refused_cleanly(edits):
    document = hand_written_library()
    for path, value, delete in edits:
        target = document
        try:
            for step in path[:-1]:
                target = target[step]
            if delete:
                del target[path[-1]]
            else:
                target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
    try:
        library = parse_library(json.loads(json.dumps(document)), "fuzz.SIPmath")
    except LibraryError as exc:
        assert str(exc).startswith("SIPmath library fuzz.SIPmath: ")
        return
    names = [s.name for s in library.sips]
    arrays = [s.name for s in library.sips if isinstance(s, ArraySip)]
    shortest = min((library.sip(n).values.size for n in arrays), default=3)
    with np.errstate(all="ignore"):
        trials = library_trials(library, names, 1, min(3, shortest))
    assert trials.shape == (len(names), min(3, shortest))
    assert json.loads(library_json(library))["name"] == library.name
