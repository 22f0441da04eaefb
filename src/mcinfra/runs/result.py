"""A finished run held in memory: its answers as xarray Datasets, and its run directory.

Computing a run (:func:`mcinfra.runs.pipeline.compute_run`) gives a :class:`RunResult`;
writing it (:meth:`RunResult.write`) gives the run directory the command line writes. The
Datasets are built on first access, so a run that only writes its files never imports
xarray.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mcinfra.config import LoadedConfig
from mcinfra.runs.summary import RunSummary


@dataclass
class RunResult:
    """The answers of one run, in memory.

    Attributes
    ----------
    loaded : LoadedConfig
        The configuration that was run (its text, origin and ``set`` edits).
    run_summary : RunSummary
        ``summary.json``'s content as a dataclass (:attr:`summary` is its dict).
    table : mcinfra.stats.quantiles.QuantileTable
        Quantiles of every series and year with their 95 % intervals, as plain arrays.
    sensitivity_rows : list of tuple
        ``(prediction, input, first_order_index, rank_correlation)``, the rows of
        ``sensitivity.csv``.
    inputs : list of str
        The uncertain inputs, in config order.
    compute_seconds : float
        Compilation, sampling and reductions.

    Examples
    --------
    >>> import mcinfra
    >>> result = mcinfra.run(draws=20_000, seed=1)  # doctest: +SKIP
    >>> result.predictions["probability"].sel(prediction="P1")  # doctest: +SKIP
    >>> result.write("runs/a", report=False)  # doctest: +SKIP
    """

    loaded: LoadedConfig
    run_summary: RunSummary
    table: Any
    sensitivity_rows: list[tuple[str, str, float, float]]
    inputs: list[str]
    compute_seconds: float

    def __repr__(self) -> str:
        run = self.run_summary.run
        ids = ", ".join(f"{p['id']}={p['probability']:.4g}" for p in self.run_summary.predictions)
        return (
            f"<RunResult {self.run_summary.model['name']}: {run['draws']:,} draws, "
            f"seed {run['seed']}; {ids or 'no predictions'}>"
        )

    @property
    def summary(self) -> dict[str, Any]:
        """The dict ``summary.json`` holds (a copy; see docs/outputs.md)."""
        return self.run_summary.to_dict()

    @functools.cached_property
    def predictions(self):
        """``xarray.Dataset`` over ``prediction`` (the ids, in config order).

        Variables: ``probability``, ``std_error``, ``ci95_low``, ``ci95_high`` (the 95 %
        interval of each prediction on its own), ``holds``, ``draws``, ``text`` and
        ``expression``; the numbers are those of ``predictions.csv``.
        """
        import xarray as xr

        rows = self.run_summary.predictions

        def column(key, dtype):
            return ("prediction", np.array([row[key] for row in rows], dtype=dtype))

        return xr.Dataset(
            {
                "probability": column("probability", float),
                "std_error": column("std_error", float),
                "ci95_low": ("prediction", np.array([r["ci95"][0] for r in rows], dtype=float)),
                "ci95_high": ("prediction", np.array([r["ci95"][1] for r in rows], dtype=float)),
                "holds": column("holds", np.int64),
                "draws": column("draws", np.int64),
                "text": column("text", object),
                "expression": column("expression", object),
            },
            coords={"prediction": [row["id"] for row in rows]},
            attrs=self._attrs(),
        )

    @functools.cached_property
    def quantiles(self):
        """``xarray.Dataset`` (segment, year, quantile): ``value``, ``ci95_low``, ``ci95_high``.

        The same numbers as ``quantiles.nc``; NaN where a quantile is not tabulated.
        """
        return self.table.to_dataset()

    @functools.cached_property
    def sensitivity(self):
        """``xarray.Dataset`` (prediction, input): ``rank_correlation``, ``first_order``.

        Every uncertain input, in config order; NaN where a prediction holds in all draws
        or in none. The numbers are those of ``sensitivity.csv``.
        """
        import xarray as xr

        ids = [p["id"] for p in self.run_summary.predictions]
        where = {name: k for k, name in enumerate(self.inputs)}
        at = {prediction: i for i, prediction in enumerate(ids)}
        first_order = np.full((len(ids), len(self.inputs)), np.nan)
        rank_correlation = np.full_like(first_order, np.nan)
        for prediction, name, index, correlation in self.sensitivity_rows:
            first_order[at[prediction], where[name]] = index
            rank_correlation[at[prediction], where[name]] = correlation
        dims = ("prediction", "input")
        return xr.Dataset(
            {"rank_correlation": (dims, rank_correlation), "first_order": (dims, first_order)},
            coords={"prediction": ids, "input": list(self.inputs)},
            attrs=self._attrs(),
        )

    @functools.cached_property
    def crossover(self):
        """``xarray.Dataset`` (entity, year) of the function split's crossovers.

        ``probability_by_year`` (entity, year) is P(crossover in that year or earlier);
        ``after_horizon``, ``median_year`` (NaN when none) and ``median_continuous`` are per
        entity. Without a function split the Dataset has no entities.
        """
        import xarray as xr

        rows = self.run_summary.crossovers
        model = self.run_summary.model
        years = list(range(model["start_year"], model["end_year"] + 1))
        by_year = np.array(
            [[row["probability_by_year"][str(y)] for y in years] for row in rows], dtype=float
        ).reshape(len(rows), len(years))

        def per_entity(key):
            values = [np.nan if row[key] is None else row[key] for row in rows]
            return ("entity", np.array(values, dtype=float))

        return xr.Dataset(
            {
                "probability_by_year": (("entity", "year"), by_year),
                "after_horizon": per_entity("after_horizon"),
                "median_year": per_entity("median_year"),
                "median_continuous": per_entity("median_continuous"),
            },
            coords={"entity": [row["entity"] for row in rows], "year": years},
            attrs=self._attrs(),
        )

    def _attrs(self) -> dict[str, Any]:
        run = self.run_summary.run
        keys = ("config_sha256", "seed", "draws", "chunk_size", "sampling_method")
        return {"model": self.run_summary.model["name"]} | {key: run[key] for key in keys}

    def update(self, observe: list[str], threads: int | None = None):
        """The posterior of this run given observations with measurement error.

        Re-streams the run's draws (bit for bit the same) and weights each by the
        likelihood of the observations; see docs/model.md ("Observations").

        Parameters
        ----------
        observe : list of str
            Observations ``QUANTITY ~ MODEL(...)``, e.g.
            ``'total[2025] ~ lognormal(median=158, log_sd=0.03)'``.
        threads : int, optional
            Numba threads; the result does not depend on it.

        Returns
        -------
        mcinfra.runs.update.Update
            Prior and posterior of every prediction and input, the effective sample size
            and the Pareto k-hat; :func:`mcinfra.runs.update.write_update` writes it.

        Raises
        ------
        mcinfra.errors.UsageError
            For a malformed observation, no compatible draw or too few effective draws.
        """
        from mcinfra.runs.update import observations_from, update_run
        from mcinfra.sampling.engine import settings_from

        run = self.run_summary.run
        settings = settings_from(
            self.loaded, run["draws"], run["seed"], run["chunk_size"], threads=threads
        )
        return update_run(self.loaded, settings, observations_from(list(observe), self.loaded))

    def drivers(
        self,
        targets: list[str] | None = None,
        groups: str | None = None,
        target_se: float = 0.01,
        threads: int | None = None,
    ) -> dict:
        """Shapley effects: each player's share of each target's variance.

        The players are the uncertain inputs (or the groups of ``[sensitivity.groups]``)
        and the yearly shocks; see docs/model.md ("Shapley effects").

        Parameters
        ----------
        targets : list of str, optional
            Numeric expressions of the prediction language (``"total[2030]"``); default:
            every prediction's indicator.
        groups : {"partition", "none"}, optional
            Group the inputs by partition, or take each alone; default: the config's
            ``[sensitivity.groups]``.
        target_se : float
            Largest standard error of an effect.
        threads : int, optional
            Numba threads; the result does not depend on it.

        Returns
        -------
        dict
            The content of ``drivers.json`` (docs/outputs.md).

        Examples
        --------
        >>> result.drivers(target_se=0.02)["targets"][0]["players"][0]  # doctest: +SKIP
        """
        from mcinfra.runs.drivers import compute_drivers, drivers_document, sensitivity_lookup
        from mcinfra.sampling.engine import RunSettings

        run = self.run_summary.run
        settings = RunSettings(run["draws"], run["seed"], run["chunk_size"], threads)
        result = compute_drivers(self.loaded, settings, targets, groups, target_se)
        return drivers_document(result, sensitivity_lookup(self.sensitivity_rows))

    def write(self, path: str | Path, report: bool = True, force: bool = False, log: bool = False):
        """Write the run directory the command line writes, atomically; return its path.

        Parameters
        ----------
        path : str or Path
            The run directory; missing parents are created.
        report : bool
            Also draw report.html, report.md and figures/.
        force : bool
            Replace a run already at ``path`` (a non-empty directory that holds no run is
            never replaced).
        log : bool
            Log scale on the report's fan charts.

        Returns
        -------
        Path

        Raises
        ------
        UsageError
            When ``path`` holds a run (without ``force``), another non-empty directory or a
            file, or cannot be written.

        Examples
        --------
        >>> result.write("runs/a", report=False)  # doctest: +SKIP
        PosixPath('runs/a')
        """
        import time

        from mcinfra.config.solved import elicited_fits
        from mcinfra.io.run_directory import atomic_directory, check_target, write_run_files

        path = Path(path)
        check_target(path, force)
        started = time.perf_counter() - self.compute_seconds
        summary = self.run_summary.to_dict()
        with atomic_directory(path) as staging:
            write_run_files(
                staging,
                summary,
                self.table,
                self.sensitivity_rows,
                config_text=self.loaded.file_text,
                started=started,
                elicited=elicited_fits(self.loaded.config),
            )
            if report:
                from mcinfra.report.build import build_report

                build_report(staging, log=log)
        return path
