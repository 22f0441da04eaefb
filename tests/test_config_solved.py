"""A run's config.toml lists the parameters solved from percentile points, outside the hash."""

from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path

import pytest

from conftest import MINIMAL, interrupt_at
from mcinfra.cli import main
from mcinfra.config import load_config, parse_config
from mcinfra.config.solved import SOLVED_MARKER, annotated_config_text, config_text_of
from mcinfra.runs.whatif import load_run_and_summary

ELICITED = Path(__file__).resolve().parents[1] / "configs" / "ai_infrastructure_elicited.toml"
NOTE = re.compile(
    r"^# (?P<path>[\w.]+): quantiles (?P<points>\[.*\]) -> (?P<family>\w+)\((?P<args>.*)\)$"
)


def _spec(config, path: str):
    node = config
    for key in path.split("."):
        if key.isdigit():
            node = node[int(key)]
        elif isinstance(node, dict):
            node = node[key]
        else:
            fields = {f.alias or n: n for n, f in type(node).model_fields.items()}
            node = getattr(node, fields[key])
    return node


def _arguments(text: str) -> dict[str, object]:
    call = ast.parse(f"f({text})", mode="eval").body
    assert isinstance(call, ast.Call)
    return {k.arg: ast.literal_eval(k.value) for k in call.keywords}


@pytest.fixture(scope="module")
def elicited_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("solved") / "run"
    code = main(
        ["run", str(ELICITED), "--draws", "2000", "--no-report", "--quiet", "--out", str(out)]
    )
    assert code == 0
    return out


def test_config_toml_lists_every_input_given_by_quantiles_with_its_solved_parameters(
    elicited_run,
):
    loaded = load_config(ELICITED)
    file_text = (elicited_run / "config.toml").read_text(encoding="utf-8")
    head, marker, notes = file_text.partition("\n" + SOLVED_MARKER + "\n")
    assert marker and head == loaded.text
    found = {}
    for line in notes.splitlines():
        match = NOTE.match(line)
        assert match, line
        found[match["path"]] = match
    assert sorted(found) == sorted(
        [
            "total.base.components.0",
            "total.base.components.1",
            "total.cagr",
            "partitions.offering.segments.memory.cagr",
            "partitions.offering.segments.network.cagr",
            "partitions.offering.segments.storage.cagr",
            "function_split.segments.hyperscale_cloud.crossover",
            "function_split.segments.hyperscale_cloud.steepness",
            "parameters.hbm_fraction_training",
        ]
    )
    for path, match in found.items():
        spec = _spec(loaded.config, path)
        assert match["family"] == spec.family
        assert [tuple(p) for p in ast.literal_eval(match["points"])] == list(spec.quantiles)
        arguments = _arguments(match["args"])
        if spec.family == "metalog":
            # every digit: the coefficients the run sampled, bit for bit
            assert tuple(arguments.pop("a")) == spec.a
            assert arguments == {
                k: v for k, v in (("lower", spec.lower), ("upper", spec.upper)) if v is not None
            }
        else:
            assert arguments and set(arguments) <= set(spec.solved_keys)
            dumped = spec.model_dump(by_alias=True)
            assert all(dumped[key] == value for key, value in arguments.items())
    network = found["partitions.offering.segments.network.cagr"]
    assert network["args"].endswith(", lower=-0.5")
    assert found["partitions.offering.segments.memory.cagr"]["args"].startswith("mean=0.22")


def test_the_notes_leave_the_hash_and_the_meaning_of_the_config_alone(elicited_run):
    file_text = (elicited_run / "config.toml").read_text(encoding="utf-8")
    summary = json.loads((elicited_run / "summary.json").read_text(encoding="utf-8"))
    recorded = summary["run"]["config_sha256"]
    assert hashlib.sha256(config_text_of(file_text).encode()).hexdigest() == recorded
    assert hashlib.sha256(file_text.encode()).hexdigest() != recorded
    # what whatif, export and a resumed run read: the directory's config.toml, as it is
    loaded, _, _ = load_run_and_summary(elicited_run)
    assert loaded.sha256 == recorded
    assert load_config(elicited_run / "config.toml").sha256 == recorded
    assert loaded.config == load_config(ELICITED).config
    assert main(["whatif", str(elicited_run), "--given", "total[2030] > 300"]) == 0


def test_a_config_without_quantiles_is_written_as_it_is(tmp_path):
    loaded = load_config()
    assert loaded.file_text == loaded.text
    out = tmp_path / "run"
    assert main(["run", "--draws", "1000", "--no-report", "--quiet", "--out", str(out)]) == 0
    assert (out / "config.toml").read_text(encoding="utf-8") == loaded.text


@pytest.mark.parametrize("ending", ["", "\n", "\n\n"])
def test_removing_the_notes_restores_the_text_exactly(ending):
    text = (
        MINIMAL.replace(
            'cagr = { dist = "normal", mean = 0.10, sd = 0.02 }',
            'cagr = { dist = "normal", quantiles = [[0.1, 0.08], [0.9, 0.12]] }',
        ).rstrip("\n")
        + ending
    )
    loaded = parse_config(text)
    annotated = annotated_config_text(text, loaded.config)
    assert annotated.startswith(text + "\n" + SOLVED_MARKER + "\n")
    assert annotated.splitlines()[-1].startswith(
        "# total.cagr: quantiles [[0.1, 0.08], [0.9, 0.12]] -> normal(mean=0.1"
    )
    assert config_text_of(annotated) == text
    again = parse_config(annotated)
    assert again.text == text and again.sha256 == loaded.sha256 and again.config == loaded.config
    # a marker followed by more than comments is the user's own text: kept whole
    edited = annotated + "# note\n[parameters]\n"
    assert config_text_of(edited) == edited
    assert config_text_of(text) == text


def test_an_interrupted_run_of_quantile_inputs_resumes_from_its_annotated_config(tmp_path):
    from mcinfra.io.run_directory import CHECKPOINT
    from mcinfra.runs.pipeline import run_to_directory
    from mcinfra.sampling.engine import settings_from

    loaded = load_config(ELICITED)
    settings = settings_from(loaded, draws=6_000, chunk_size=1_500)
    whole = tmp_path / "whole"
    run_to_directory(loaded, settings, whole, report=False)

    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt, match="--resume"):
        run_to_directory(
            loaded,
            settings,
            out,
            report=False,
            progress=interrupt_at(3_000),
            checkpoint_seconds=0.0,
        )
    [staged] = tmp_path.glob(".interrupted.partial-*/" + CHECKPOINT)
    assert SOLVED_MARKER in (staged.parent / "config.toml").read_text(encoding="utf-8")
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    for name in ("predictions.csv", "sensitivity.csv", "quantiles.csv", "config.toml"):
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name
    recorded = json.loads((out / "summary.json").read_text(encoding="utf-8"))["run"]
    assert recorded["config_sha256"] == loaded.sha256


def test_the_report_reads_an_annotated_config_as_the_text_the_run_checked(
    elicited_run, monkeypatch
):
    from mcinfra.report import data

    calls = []
    real = data.parse_config

    def recording(*args, **kwargs):
        calls.append(kwargs.get("relations", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(data, "parse_config", recording)
    report = data.load_report_data(elicited_run)
    assert calls == [False]  # the recorded text: its structure only, not checked again
    solved = [row["distribution"] for row in report.assumptions if " from P" in row["distribution"]]
    assert solved
