"""User-facing raises of the report, device, executor and strategy modules are family errors.

Each is either printed by the CLI as one ``alstrategies: error: ...`` line (exit status 2, no
traceback) or, where no command reaches it cheaply, raised as an :class:`AlstrategiesError` that
keeps its built-in base and message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from alstrategies.cli import main
from alstrategies.config import load_config, strategy_options
from alstrategies.device import resolve_device
from alstrategies.engine.records import RecordCache
from alstrategies.errors import (
    AlstrategiesError,
    ConfigError,
    MissingDependencyError,
    MissingFileError,
    RecordError,
)
from alstrategies.registry import STRATEGIES
from alstrategies.report import read_grid, write_report
from alstrategies.report.qualitative import parse_budget, resolve_budget, write_qualitative_figures
from alstrategies.report.summary import summary_markdown
from alstrategies.report.tables import EmptyResultsError, budget_table
from tests.conftest import TINY
from tests.report.test_report import make_results

SYNTHETIC = "benchmarks/configs/synthetic.toml"


def _one_line_error(capsys: pytest.CaptureFixture[str], code: int, *fragments: str) -> str:
    """Assert the CLI exited 2 with exactly one error line holding ``fragments``; return it."""
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("alstrategies: error: "), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def _run_args(out: Path, *overrides: str) -> list[str]:
    args = ["run", SYNTHETIC, "--out", str(out), "--strategies", "random", "--quiet"]
    for assignment in [*TINY, "model.heads=plain", *overrides]:
        args += ["--set", assignment]
    return args


# -- report: --budget, --slices, results.csv, grid.json -------------------------------------------


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ("abc", "budget 'abc' is not a number (use e.g. 0.2 or 20%)"),
        ("0", "budget '0' must lie in (0, 100%]"),
        ("150%", "budget '150%' must lie in (0, 100%]"),
        ("70%", "no AL budget near 70.00%; the run has 10.00%, 20.00%, 30.00%"),
    ],
)
def test_a_bad_report_budget_is_one_line(tmp_path, capsys, budget, message):
    make_results().to_csv(tmp_path / "results.csv", index=False)
    (tmp_path / "snapshots").mkdir()
    _one_line_error(capsys, main(["report", str(tmp_path), "--budget", budget]), message)


def test_budget_errors_keep_value_error_and_their_messages():
    with pytest.raises(ConfigError, match="not a number") as raised:
        parse_budget("twenty")
    assert isinstance(raised.value, ValueError)
    assert parse_budget("20%") == pytest.approx(0.2) and parse_budget("0.2") == pytest.approx(0.2)
    with pytest.raises(ConfigError, match="no active-learning budget"):
        resolve_budget(make_results(budgets=()))


def test_bad_slices_is_one_line(tmp_path, capsys):
    make_results().to_csv(tmp_path / "results.csv", index=False)
    (tmp_path / "snapshots").mkdir()
    code = main(["report", str(tmp_path), "--slices", "0"])
    _one_line_error(capsys, code, "max_slices must be at least 1, got 0")
    assert not (tmp_path / "dice_table.md").exists()  # stopped before writing any report file
    with pytest.raises(ConfigError):
        write_qualitative_figures(make_results(), tmp_path, ["A", "B"], max_slices=-1)


def test_a_header_only_results_csv_is_one_line(tmp_path, capsys):
    make_results().iloc[:0].to_csv(tmp_path / "results.csv", index=False)
    assert (tmp_path / "results.csv").read_text().startswith("strategy,seed,round,budget")
    code = main(["report", str(tmp_path)])
    _one_line_error(capsys, code, "results is empty: nothing to report")
    assert not (tmp_path / "dice_table.md").exists()


def test_empty_results_are_a_record_error_and_still_a_value_error(tmp_path):
    empty = make_results().iloc[:0]
    for call, message in [
        (lambda: write_report(empty, tmp_path), "nothing to report"),
        (lambda: budget_table(empty), "nothing to tabulate"),
        (lambda: summary_markdown(empty), "nothing to summarise"),
    ]:
        with pytest.raises(EmptyResultsError, match=message) as raised:
            call()
        assert isinstance(raised.value, RecordError) and isinstance(raised.value, ValueError)


def test_a_results_table_without_its_columns_is_one_line(tmp_path, capsys):
    make_results().drop(columns=["seed", "round"]).to_csv(tmp_path / "results.csv", index=False)
    code = main(["report", str(tmp_path)])
    _one_line_error(capsys, code, "results lack the column(s) seed, round")


def test_report_options_are_config_errors():
    with pytest.raises(ConfigError, match="unknown test 'z'"):
        summary_markdown(make_results(), test="z")
    with pytest.raises(ConfigError, match="unknown pairing 'z'"):
        summary_markdown(make_results(), pairing="z")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        (json.dumps({"name": "g", "variants": ["a"]}), "lacks budget, layout"),
        (
            json.dumps({"name": "g", "variants": ["a", "a"], "budget": 1.0, "layout": "variant_by_class"}),
            "variants must be a non-empty list of distinct names",
        ),
        (
            json.dumps({"name": "g", "variants": ["a"], "budget": "half", "layout": "variant_by_class"}),
            "budget must lie in (0, 1], got half",
        ),
        (
            json.dumps(
                {"name": "g", "variants": ["a"], "budget": 1.0, "layout": "variant_by_class", "labels": 3}
            ),
            "labels must map variant names",
        ),
    ],
)
def test_a_bad_grid_json_is_one_line(tmp_path, capsys, content, message):
    (tmp_path / "grid.json").write_text(content)
    _one_line_error(capsys, main(["report", str(tmp_path)]), "grid.json", message)
    with pytest.raises(ConfigError):
        read_grid(tmp_path)


def test_a_grid_without_results_and_with_a_corrupt_one(tmp_path, capsys):
    grid = {"name": "g", "variants": ["a", "b"], "budget": 1.0, "layout": "variant_by_class"}
    (tmp_path / "grid.json").write_text(json.dumps(grid))
    _one_line_error(capsys, main(["report", str(tmp_path)]), "no variant of", "has a results.csv yet")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results.csv").write_text("")
    _one_line_error(capsys, main(["report", str(tmp_path)]), "is not a readable results table")
    with pytest.raises(MissingFileError, match="grid.json not found"):
        read_grid(tmp_path / "a")


# -- run: train.device, --workers, executor options ---------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_one_line(tmp_path, capsys):
    code = main(_run_args(tmp_path / "run", "train.device=cuda"))
    _one_line_error(capsys, code, "train.device = 'cuda' but no CUDA device is visible")
    assert not (tmp_path / "run" / "results.csv").exists()


def test_an_unknown_device_is_a_config_error():
    with pytest.raises(ConfigError, match="train.device = 'gpu0' is not a device"):
        resolve_device("gpu0")
    assert resolve_device("cpu") == torch.device("cpu")


def test_zero_workers_is_one_line(tmp_path, capsys):
    code = main([*_run_args(tmp_path / "run"), "--workers", "0"])
    _one_line_error(capsys, code, "executor.workers (0) and executor.chains_per_gpu (1) must be >= 1")
    assert not (tmp_path / "run" / "results.csv").exists()


def test_ray_options_and_a_missing_ray(monkeypatch):
    from alstrategies.executors.ray_executor import INSTALL_HINT, RayExecutor

    with pytest.raises(ConfigError, match="executor.cpus_per_chain must be > 0"):
        RayExecutor(cpus_per_chain=0)
    monkeypatch.setitem(sys.modules, "ray", None)  # ``import ray`` raises ImportError
    with pytest.raises(MissingDependencyError) as raised:
        RayExecutor().execute(None)  # type: ignore[arg-type]  # import ray comes first
    assert str(raised.value) == INSTALL_HINT and isinstance(raised.value, RuntimeError)


# -- strategy options from the config ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "override", "message"),
    [
        ("vaal", "strategies.vaal.init='foo'", "vaal init must be one of"),
        ("vaal", "strategies.vaal.image_size=48", "vaal image_size must be one of"),
        ("vaal", "strategies.vaal.kld_reduction='max'", "vaal kld_reduction must be one of"),
        ("vaal", "strategies.vaal.width=0", "vaal width must be at least 1, got 0"),
        ("vaal", "strategies.vaal.epochs=0", "vaal needs iterations > 0"),
        ("mean_std", "strategies.mean_std.passes=1", "mean_std needs at least 2 stochastic passes"),
        ("sbc_al", "strategies.sbc_al.cosine='odd'", "sbc_al option cosine = 'odd'"),
    ],
)
def test_bad_strategy_options_are_config_errors(name, override, message):
    config = load_config(None, [override])
    with pytest.raises(ConfigError, match=message) as raised:
        STRATEGIES.get(name)(**strategy_options(config, name))
    assert isinstance(raised.value, AlstrategiesError) and isinstance(raised.value, ValueError)


def test_a_bad_vaal_option_stops_a_run_as_one_line(tmp_path, capsys):
    args = ["run", SYNTHETIC, "--out", str(tmp_path / "run"), "--strategies", "vaal", "--quiet"]
    for assignment in [*TINY, "model.heads=plain", "strategies.vaal.init='foo'"]:
        args += ["--set", assignment]
    _one_line_error(capsys, main(args), "vaal init must be one of", "'foo'")


def test_a_record_that_disappears_is_a_record_error(tmp_path):
    with pytest.raises(RecordError, match="disappeared while results.csv was being written"):
        RecordCache().chain_row(tmp_path / "round1.json", ["A"])


# -- run: values that once ran something else than asked, or a traceback -------------------------


def test_a_step_that_does_not_fit_is_one_line_before_anything_is_written(tmp_path, capsys):
    args = _run_args(tmp_path / "run", "protocol.step_fraction=0.25", "protocol.final_fraction=0.6")
    _one_line_error(  # TINY starts at 0.2: the rounds would run at 20, 40, 60 %, not every 25 %
        capsys,
        main(args),
        "protocol.step_fraction = 0.25 does not fit",
        "20.00 %, 40.00 %, 60.00 %",
        "set protocol.step_fraction to 0.4 (1 round) or 0.2 (2 rounds)",
    )
    assert not (tmp_path / "run").exists()


def test_a_config_folder_and_an_unknown_strategy_are_one_line(tmp_path, capsys):
    _one_line_error(
        capsys, main(["run", str(tmp_path), "--out", str(tmp_path / "run")]), "is a folder; give a TOML file"
    )
    args = _run_args(tmp_path / "run")
    args[args.index("--strategies") + 1] = "randon"
    _one_line_error(capsys, main(args), "unknown strategy 'randon' (did you mean random?)")
    assert not (tmp_path / "run").exists()
