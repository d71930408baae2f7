"""The one family of user errors: its classes, the CLI that prints only them, and entry points."""

from __future__ import annotations

import inspect
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

from alstrategies import errors
from alstrategies.cli import is_user_error, main
from alstrategies.errors import AlstrategiesError, ConfigError, DatasetError, UnitFailed
from alstrategies.registry import STRATEGIES
from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy
from tests.conftest import TINY

ROOT = Path(__file__).resolve().parents[1]

#: Every class of alstrategies.errors and the built-in it keeps (``except ValueError`` still works).
BUILTIN_BASES = {
    "ConfigError": ValueError,
    "BudgetError": ValueError,
    "DatasetError": ValueError,
    "UnknownNameError": KeyError,
    "MissingFileError": FileNotFoundError,
    "MissingDependencyError": RuntimeError,
    "EmptyPoolError": ValueError,
    "StrategyContractError": RuntimeError,
    "StrategyLoadError": ValueError,
    "RunFolderMismatch": RuntimeError,
    "RecordError": RuntimeError,
    "EmptyResultsError": (RuntimeError, ValueError),
    "SnapshotError": ValueError,
    "ReferenceTableError": ValueError,
    "UnitFailed": RuntimeError,
}


def _classes() -> dict[str, type]:
    return {
        name: obj
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and obj.__module__ == errors.__name__ and obj is not AlstrategiesError
    }


def test_every_error_is_of_the_family_and_keeps_its_builtin_base():
    classes = _classes()
    assert set(classes) == set(BUILTIN_BASES)  # a new class needs its documented base listed here
    for name, cls in classes.items():
        assert issubclass(cls, AlstrategiesError), name
        assert issubclass(cls, BUILTIN_BASES[name]), name
        assert cls.__doc__, name
    assert issubclass(AlstrategiesError, Exception) and not issubclass(AlstrategiesError, ValueError)


def test_unknown_name_error_reads_without_quotes():
    assert str(errors.UnknownNameError("unknown model 'x'")) == "unknown model 'x'"
    assert str(KeyError("unknown model 'x'")) == "\"unknown model 'x'\""  # what the override avoids


def test_errors_is_a_leaf_module():
    source = Path(errors.__file__).read_text()
    assert "import alstrategies" not in source and "from alstrategies" not in source


def test_the_old_import_paths_give_the_family_classes():
    from alstrategies.data.acdc import DatasetError as acdc_error
    from alstrategies.data.volumes import DatasetError as volumes_error
    from alstrategies.engine.protocol import BudgetError
    from alstrategies.executors.scheduling import UnitFailed as scheduling_unit_failed
    from alstrategies.registry import UnknownNameError

    assert acdc_error is volumes_error is DatasetError
    assert BudgetError is errors.BudgetError and UnknownNameError is errors.UnknownNameError
    assert scheduling_unit_failed is UnitFailed


def test_user_facing_raises_of_the_data_and_model_modules_are_family_errors(tmp_path):
    from alstrategies.data import cache, load_dataset
    from alstrategies.data.synthetic import load_synthetic
    from alstrategies.models import build_model

    with pytest.raises(DatasetError, match="image_size must be >= 32"):
        load_synthetic(image_size=16)
    with pytest.raises(DatasetError, match="hard_fraction must be in"):
        load_synthetic(hard_fraction=2.0)
    with pytest.raises(ConfigError, match="model.heads = 'odd'"):
        build_model({"heads": "odd", "width": 4}, num_classes=2)
    with pytest.raises(ConfigError, match="takes no data.root"):
        load_dataset({"name": "synthetic", "root": "/somewhere"})
    entry = tmp_path / "entry"
    entry.mkdir()
    for name in ("pool_images.npy", "pool_labels.npy", "volumes.npz"):
        (entry / name).write_bytes(b"not an array")
    (entry / "meta.json").write_text("{")
    assert cache.is_complete(entry)
    with pytest.raises(DatasetError, match=r"cache entry .*entry is corrupt .*--rebuild"):
        cache.load(entry)


def test_a_unit_failed_is_a_user_error_only_when_its_cause_is_one():
    def failed(cause: BaseException) -> UnitFailed:
        try:
            raise UnitFailed(f"unit failed in a worker: {cause}") from cause
        except UnitFailed as error:
            return error

    assert is_user_error(failed(DatasetError("bad file")))
    assert not is_user_error(failed(KeyError("bug")))
    assert is_user_error(ConfigError("x")) and not is_user_error(ValueError("x"))


# -- the CLI: one line for a user error, the traceback for a bug ---------------------------------


class KeyErrorStrategy(QueryStrategy):
    """A buggy strategy: its select raises KeyError."""

    name = "key_error_strategy"

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        raise KeyError("boom")


@pytest.fixture
def key_error_strategy():
    STRATEGIES.register(KeyErrorStrategy.name, KeyErrorStrategy)
    yield KeyErrorStrategy.name
    STRATEGIES.unregister(KeyErrorStrategy.name)


def _tiny_run(out: Path, strategy: str, *extra: str) -> list[str]:
    args = [
        "run",
        "benchmarks/configs/synthetic.toml",
        "--out",
        str(out),
        "--strategies",
        strategy,
        "--quiet",
    ]
    for assignment in [*TINY, "model.heads=plain", "protocol.final_fraction=0.3", *extra]:
        args += ["--set", assignment]
    return args


def test_a_bug_in_a_strategy_reaches_the_user_with_its_traceback(key_error_strategy, tmp_path, capsys):
    with pytest.raises(KeyError, match="boom") as raised:
        main(_tiny_run(tmp_path / "run", key_error_strategy))
    assert not isinstance(raised.value, AlstrategiesError)
    assert any(entry.name == "select" for entry in raised.traceback)  # the frame that raised it
    assert "alstrategies: error:" not in capsys.readouterr().err


def test_a_config_error_is_one_line_without_traceback(key_error_strategy, tmp_path, capsys):
    code = main(_tiny_run(tmp_path / "run", key_error_strategy, "train.nosuchkey=1"))
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("alstrategies: error: ") and "nosuchkey" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # stopped before any training


def test_a_user_error_through_the_console_script_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "alstrategies", "report", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("alstrategies: error: ") and "Traceback" not in result.stderr
    assert "results.csv not found" in result.stderr and result.stderr.count("\n") == 1


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"alstrategies {version('alstrategies')}"


# -- entry points ------------------------------------------------------------------------------


def _python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return result.stdout.strip()


def test_builtin_datasets_and_models_come_from_entry_points_without_importing_them():
    out = _python(
        "import sys\n"
        "from alstrategies.registry import DATASETS, MODELS\n"
        "print(DATASETS.names(), MODELS.names())\n"
        "print(sorted(m for m in ('alstrategies.data', 'alstrategies.models') if m in sys.modules))\n"
        "print(MODELS.get('unetpp').__name__, DATASETS.get('folder').__name__)"
    )
    assert out.splitlines() == [
        "['acdc', 'decathlon', 'folder', 'kits19', 'nnunet', 'synthetic'] ['attention_unet', 'unet', 'unetpp']",
        "[]",
        "UNetPlusPlus load_folder",
    ]


def test_config_and_data_do_not_import_each_other():
    out = _python(
        "import sys\n"
        "import alstrategies.config\n"
        "print('alstrategies.data' in sys.modules, 'alstrategies.models' in sys.modules)\n"
        "for name in [m for m in sys.modules if m.startswith('alstrategies')]:\n"
        "    del sys.modules[name]\n"
        "from alstrategies.data import load_dataset\n"
        "from alstrategies.errors import ConfigError\n"
        "try:\n"
        "    load_dataset({'name': 'synthetic', 'root': '/x'})\n"
        "except ConfigError as error:\n"
        "    print('takes no data.root' in str(error))\n"
        "print('alstrategies.config' in sys.modules)"
    )
    assert out.splitlines() == ["False False", "True", "False"]
