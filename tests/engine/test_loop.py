import json

import numpy as np
import pandas as pd
import pytest

from alstrategies.cli import main
from alstrategies.engine.loop import Experiment
from alstrategies.engine.protocol import budget_schedule, initial_labeled_set
from alstrategies.engine.records import RunLayout, read_record
from alstrategies.errors import RunFolderMismatch


def _run(config, out, strategies=("random",), seeds=None):
    return Experiment(config, out, strategies=list(strategies), seeds=seeds, progress=False).run()


def test_records_and_results_follow_the_protocol(tiny_config, tmp_path):
    config = tiny_config()
    results = _run(config, tmp_path, seeds=[0, 1])
    budgets = budget_schedule(30, 0.2, 0.1, 0.4)
    assert [b.count for b in budgets] == [6, 9, 12]
    assert len(results) == 2 * (len(budgets) + 1)  # rounds + the 100 % row, per seed
    layout = RunLayout(tmp_path)
    for seed in (0, 1):
        chain = results[results.seed == seed].sort_values("round")
        assert chain["n_labeled"].tolist() == [6, 9, 12, 30]
        assert chain["budget"].tolist() == [0.2, 0.3, 0.4, 1.0]
        labeled = None
        for budget in budgets:
            record = read_record(layout.strategy_round("random", seed, budget.round))
            current = np.asarray(record["labeled"])
            assert len(current) == budget.count == len(np.unique(current))
            if labeled is None:
                assert np.array_equal(current, initial_labeled_set(30, 6, seed))
            else:
                assert set(labeled) < set(current)
            queried = np.asarray(record["queried"])
            assert not set(queried) & set(current)
            labeled = current
    row = results.iloc[0]
    assert 0 <= row["dice"] <= 1 and {"dice_RV", "dice_MYO", "dice_LV", "hd95"} <= set(results.columns)
    assert pd.read_csv(layout.results).shape == results.shape


def test_round0_and_full_models_are_shared_across_strategies(tiny_config, tmp_path):
    results = _run(tiny_config(), tmp_path, strategies=["random", "max_entropy"])
    round0 = results[results["round"] == 0].set_index("strategy")
    assert round0.loc["random", "dice"] == round0.loc["max_entropy", "dice"]
    full = results[results["budget"] == 1.0].set_index("strategy")
    assert full.loc["random", "dice"] == full.loc["max_entropy", "dice"]
    assert len(list((tmp_path / "checkpoints").glob("seed_0_round0.pt"))) == 1


def test_same_config_same_numbers(tiny_config, tmp_path):
    a = _run(tiny_config(), tmp_path / "a")
    b = _run(tiny_config(), tmp_path / "b")
    pd.testing.assert_frame_equal(a, b)
    # results.csv holds metrics only, so the same config gives the same bytes; seconds are
    # in timings.csv, one row per results row
    assert (tmp_path / "a" / "results.csv").read_bytes() == (tmp_path / "b" / "results.csv").read_bytes()
    timings = pd.read_csv(tmp_path / "a" / "timings.csv")
    assert len(timings) == len(a) and (timings["train_seconds"] > 0).all()
    assert "train_seconds" not in a.columns


def test_rerun_resumes_without_recomputing(tiny_config, tmp_path):
    first = _run(tiny_config(), tmp_path)
    layout = RunLayout(tmp_path)
    last = layout.strategy_round("random", 0, 2)
    stamp = last.stat().st_mtime_ns
    last.unlink()  # as if killed before the final round was recorded
    again = _run(tiny_config(), tmp_path)
    assert last.is_file() and last.stat().st_mtime_ns != stamp
    other = layout.strategy_round("random", 0, 1)
    before = other.stat().st_mtime_ns
    third = _run(tiny_config(), tmp_path)
    assert other.stat().st_mtime_ns == before  # nothing recomputed
    pd.testing.assert_frame_equal(first, again)
    timings = pd.read_csv(layout.timings)
    _run(tiny_config(), tmp_path)
    pd.testing.assert_frame_equal(timings, pd.read_csv(layout.timings))  # read back, not re-run
    pd.testing.assert_frame_equal(again, third)


def test_a_folder_started_with_another_config_is_refused(tiny_config, tmp_path):
    _run(tiny_config(), tmp_path)
    with pytest.raises(RunFolderMismatch, match=r"train.iterations: 3 -> 4"):
        _run(tiny_config("train.iterations=4"), tmp_path)
    _run(tiny_config("protocol.seeds=[1]"), tmp_path)  # seeds only select work: allowed
    assert json.loads((tmp_path / "config.json").read_text())["train"]["iterations"] == 3


def test_cli_run_writes_results_table_and_curves(tmp_path, capsys):
    from tests.conftest import TINY

    args = [
        "run",
        "benchmarks/configs/synthetic.toml",
        "--out",
        str(tmp_path),
        "--strategies",
        "random",
        "--quiet",
    ]
    for assignment in TINY + ["model.heads=plain"]:
        args += ["--set", assignment]
    assert main(args) == 0
    for name in ["results.csv", "dice_table.md", "learning_curves.png", "run.log", "config.json"]:
        assert (tmp_path / name).is_file(), name
    table = (tmp_path / "dice_table.md").read_text()
    assert "| random |" in table and "20.00%" in table and "100%" in table


def test_cli_reports_bad_keys_clearly(capsys):
    assert main(["run", "benchmarks/configs/synthetic.toml", "--set", "train.epoch=1"]) == 2
    err = capsys.readouterr().err
    assert "unknown config key" in err and "train.epochs" in err


def test_sbc_al_on_a_plain_network_is_refused_before_training(tiny_config, tmp_path):
    from alstrategies.config import ConfigError

    with pytest.raises(ConfigError, match="model.heads"):
        Experiment(tiny_config(), tmp_path, strategies=["sbc_al"], progress=False)
    assert not (tmp_path / "results.csv").exists()


def test_sbc_al_chain_records_its_consistency_scores(tiny_config, tmp_path):
    results = _run(tiny_config("model.heads=sbc"), tmp_path, strategies=["sbc_al"])
    assert results["n_labeled"].tolist() == [6, 9, 12, 30]
    record = read_record(RunLayout(tmp_path).strategy_round("sbc_al", 0, 0))
    scores = record["scores"]
    assert len(scores["candidates"]) == 30 - 6
    assert {"score", "scs", "bcs"} <= set(scores)
    top = np.argsort(-np.asarray(scores["score"]), kind="stable")[:3]
    assert sorted(np.asarray(scores["candidates"])[top].tolist()) == sorted(record["queried"])


def test_warm_start_chains_continue_from_the_previous_round(tiny_config, tmp_path):
    results = _run(tiny_config("train.warm_start=true"), tmp_path)
    assert results["n_labeled"].tolist() == [6, 9, 12, 30]
    left = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.pt"))
    assert left == ["seed_0_round0.pt"]  # per-round chain checkpoints are removed once used

    # the full model starts from round 0: it differs from a cold-started one of the same seed
    _run(tiny_config(), tmp_path / "cold")
    full_warm = read_record(RunLayout(tmp_path).shared(0, "full"))["loss_history"]
    full_cold = read_record(RunLayout(tmp_path / "cold").shared(0, "full"))["loss_history"]
    assert full_warm[0] < full_cold[0]  # a trained start has a lower first loss


def test_a_folder_from_an_older_schema_still_resumes(tiny_config, tmp_path):
    _run(tiny_config(), tmp_path)
    recorded = json.loads((tmp_path / "config.json").read_text())
    del recorded["train"]["full_epochs_factor"]  # as written before that key existed
    (tmp_path / "config.json").write_text(json.dumps(recorded))
    before = RunLayout(tmp_path).strategy_round("random", 0, 1).stat().st_mtime_ns
    _run(tiny_config(), tmp_path)
    assert RunLayout(tmp_path).strategy_round("random", 0, 1).stat().st_mtime_ns == before


def test_target_cache_computes_each_distance_map_once(monkeypatch):
    import torch

    import alstrategies.sbcal.scores as scores
    from alstrategies.training.targets import TargetCache

    labels = torch.randint(0, 4, (6, 16, 16))
    calls = []
    original = scores.distance_maps

    def counting(batch, num_classes, **options):
        calls.append(batch.shape[0])
        return original(batch, num_classes, **options)

    monkeypatch.setattr(scores, "distance_maps", counting)
    cache = TargetCache(labels, 4)
    first = cache.targets(np.array([1, 3]), need_distance=True)["distance"]
    second = cache.targets(np.array([3, 1, 4]), need_distance=True)["distance"]
    assert calls == [2, 1]  # only image 4 was new the second time
    assert torch.equal(second[:2], first.flip(0))
    assert torch.allclose(second, original(labels[[3, 1, 4]], 4).float())


def test_every_round_checkpoint_is_kept_on_request(tiny_config, tmp_path):
    import torch

    _run(tiny_config("snapshots.checkpoints=true"), tmp_path)
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.pt"))
    assert kept == ["random_seed_0_round1.pt", "random_seed_0_round2.pt", "seed_0_round0.pt"]
    state = torch.load(tmp_path / "checkpoints" / "random_seed_0_round2.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_snapshots_hold_the_fixed_slices_and_sbc_al_outputs(tiny_config, tmp_path):
    from alstrategies.report.snapshots import load_snapshot

    _run(tiny_config("model.heads=sbc", "snapshots.slices=2"), tmp_path, strategies=["sbc_al", "random"])
    layout = RunLayout(tmp_path)
    first = load_snapshot(layout.snapshot("sbc_al", 0, 0))
    other = load_snapshot(layout.snapshot("random", 0, 2))
    assert first["images"].shape == (2, 32, 32) and first["distance"].shape == (2, 4, 32, 32)
    assert np.array_equal(first["images"], other["images"])  # the same slices everywhere
    assert list(first["slice_names"]) == list(other["slice_names"])
    assert set(np.unique(first["prediction"])) <= {0, 1, 2, 3} and "coarse" in first
    # the highest- and lowest-CS pool images of the query, scores in order
    record = read_record(layout.strategy_round("sbc_al", 0, 0))
    scores = np.sort(np.asarray(record["scores"]["score"]))
    assert np.allclose(first["cs_high_scores"], scores[::-1][:4])
    assert np.allclose(first["cs_low_scores"], scores[:4])
    assert "cs_high_images" not in load_snapshot(layout.snapshot("sbc_al", 0, 2))  # no query at the end
    assert not (tmp_path / "snapshots" / "random" / "seed1").exists()


def test_snapshot_labels_of_volumes_with_different_original_sizes():
    """Real datasets evaluate at each volume's own size: the snapshot zooms every label to the
    working size (nearest), whatever the sizes."""
    import torch

    from alstrategies.models import build_model
    from alstrategies.report.capture import choose_snapshot_slices, snapshot_arrays
    from alstrategies.types import Volume

    rng = np.random.default_rng(0)
    volumes = []
    for name, (h, w) in (("a", (32, 24)), ("b", (20, 40))):
        label = np.zeros((3, h, w), np.uint8)
        label[1, : h // 2, : w // 2] = 2  # slice 1 has the most foreground: the top-left quarter
        volumes.append(Volume(name, rng.random((3, 16, 16)).astype(np.float32), label))
    slices = choose_snapshot_slices(volumes, 2)
    assert slices == [(0, 1), (1, 1)]
    model = build_model({"width": 4, "heads": "plain"}, 4, seed=0)
    arrays = snapshot_arrays(model, volumes, slices, torch.device("cpu"))
    assert arrays["labels"].shape == (2, 16, 16) and arrays["prediction"].shape == (2, 16, 16)
    expected = np.zeros((16, 16), np.uint8)
    expected[:8, :8] = 2
    assert np.array_equal(arrays["labels"][0], expected) and np.array_equal(arrays["labels"][1], expected)
    assert list(arrays["slice_names"]) == ["a:1", "b:1"]


def _units(config, out, strategies, kinds):
    experiment = Experiment(config, out, strategies=list(strategies), progress=False)
    experiment.claim_folder()
    for unit in experiment.units():
        if unit.kind in kinds:
            experiment.run_unit(unit)
    experiment.close_log()
    return experiment


def test_round0_unit_makes_every_strategys_first_query(tiny_config, tmp_path):
    _units(tiny_config(), tmp_path, ["random", "max_entropy"], {"round0"})
    layout = RunLayout(tmp_path)
    round0 = read_record(layout.shared(0, "round0"))
    assert len(round0["weights_sha256"]) == 64
    for name in ("random", "max_entropy"):
        record = read_record(layout.strategy_round(name, 0, 0))
        assert record["labeled"] == round0["labeled"] and len(record["queried"]) == 3
        assert record["dice"] == round0["dice"]
        assert layout.strategy_round(name, 0, 1).is_file() is False  # no training yet


def test_a_run_resumes_from_its_records_without_checkpoints(tiny_config, tmp_path):
    """Records are all a resume needs (no warm start): checkpoints never travel between the
    machines of a run, e.g. short GPU windows whose records alone are committed."""
    reference = _run(tiny_config(), tmp_path / "reference", strategies=["random", "max_entropy"])
    out = tmp_path / "moved"
    _units(tiny_config(), out, ["random", "max_entropy"], {"round0"})
    for checkpoint in (out / "checkpoints").glob("*.pt"):
        checkpoint.unlink()  # as if only the records came back from the first machine
    stamp = RunLayout(out).shared(0, "round0").stat().st_mtime_ns
    resumed = _run(tiny_config(), out, strategies=["random", "max_entropy"])
    pd.testing.assert_frame_equal(reference, resumed)
    assert RunLayout(out).shared(0, "round0").stat().st_mtime_ns == stamp  # not retrained
    assert not (out / "checkpoints" / "seed_0_round0.pt").exists()


def test_a_lost_checkpoint_is_retrained_and_must_reproduce(tiny_config, tmp_path):
    layout = RunLayout(tmp_path)
    _units(tiny_config(), tmp_path, ["random", "max_entropy"], {"round0"})
    recorded = read_record(layout.shared(0, "round0"))
    # a strategy added later needs the round-0 model again: on the CPU retraining reproduces it
    (tmp_path / "checkpoints" / "seed_0_round0.pt").unlink()
    _units(tiny_config(), tmp_path, ["random", "max_entropy", "margin"], {"round0"})
    assert read_record(layout.shared(0, "round0"))["weights_sha256"] == recorded["weights_sha256"]
    assert layout.strategy_round("margin", 0, 0).is_file()

    # weights that do not reproduce (as on a GPU) are refused while records depend on them
    (tmp_path / "checkpoints" / "seed_0_round0.pt").unlink()
    layout.shared(0, "round0").write_text(json.dumps({**recorded, "weights_sha256": "0" * 64}))
    with pytest.raises(RuntimeError, match=r"retraining gave different weights.*margin, max_entropy, random"):
        _units(tiny_config(), tmp_path, ["random", "least_confidence"], {"round0"})
    assert not layout.strategy_round("least_confidence", 0, 0).exists()

    # once nothing depends on them, the retrained model simply replaces the record
    for path in (tmp_path / "strategies").glob("*/seed0/round0.json"):
        path.unlink()
    _units(tiny_config(), tmp_path, ["random"], {"round0"})
    assert read_record(layout.shared(0, "round0"))["weights_sha256"] == recorded["weights_sha256"]


def test_weights_digest_tells_models_apart():
    import torch

    from alstrategies.engine.run_folder import weights_digest
    from alstrategies.models import build_model

    a, b = (build_model({"width": 4, "heads": "plain"}, 4, seed=0) for _ in range(2))
    assert weights_digest(a) == weights_digest(b)
    with torch.no_grad():
        next(b.parameters()).view(-1)[0] += 1e-7
    assert weights_digest(a) != weights_digest(b)


def test_evaluation_and_queries_run_in_full_precision_unless_asked(tiny_config, tmp_path, monkeypatch):
    """bf16 (train.amp) is for training steps; measured and ranked predictions are fp32."""
    import alstrategies.training.round as loop
    from alstrategies.baselines.random_sampling import RandomStrategy

    seen = {"evaluate": [], "query": []}
    original_evaluate, original_select = loop.evaluate, RandomStrategy.select

    def spy_evaluate(*args, **kwargs):
        seen["evaluate"].append(kwargs.get("amp"))
        return original_evaluate(*args, **kwargs)

    def spy_select(self, context, k, rng):
        seen["query"].append(context.amp)
        return original_select(self, context, k, rng)

    monkeypatch.setattr(loop, "evaluate", spy_evaluate)
    monkeypatch.setattr(RandomStrategy, "select", spy_select)
    _run(tiny_config("train.amp=true"), tmp_path / "default")
    assert seen["evaluate"] and set(seen["evaluate"]) == {False}
    assert seen["query"] and set(seen["query"]) == {False}
    seen["query"].clear()
    _run(tiny_config("train.amp=true", "query.amp=true"), tmp_path / "bf16")
    assert set(seen["query"]) == {True}


def test_a_folder_resumes_with_the_data_at_another_path_but_not_with_other_data(tiny_config, tmp_path):
    """data.root says where the files are (another machine, a copy): it may change on resume;
    dataset.json says what they are, and other data are refused."""
    from alstrategies.data import load_dataset

    data = load_dataset(tiny_config()["data"])  # the same data, found at two different paths

    def run(root: str):
        config = tiny_config(f"data.root='{root}'")
        return Experiment(config, tmp_path, strategies=["random"], progress=False, data=data).run()

    run("/first/copy")
    layout = RunLayout(tmp_path)
    identity = json.loads((tmp_path / "dataset.json").read_text())
    assert identity["pool_size"] == 30 and identity["class_names"] == ["RV", "MYO", "LV"]
    assert "root" not in json.loads(layout.config.read_text())["data"]
    before = layout.strategy_round("random", 0, 2).stat().st_mtime_ns
    run("/second/copy")
    assert layout.strategy_round("random", 0, 2).stat().st_mtime_ns == before  # resumed, nothing redone

    (tmp_path / "dataset.json").write_text(json.dumps({**identity, "pool_size": 31}))
    with pytest.raises(RunFolderMismatch, match=r"started on other data:\n  pool_size: 31 -> 30"):
        run("/second/copy")


def test_dataset_identity_ignores_float_rounding_but_not_the_split():
    from alstrategies.data.synthetic import load_synthetic
    from alstrategies.engine.run_folder import dataset_identity

    data = load_synthetic(image_size=32, train_patients=4, test_patients=2)
    identity = dataset_identity(data)
    data.pool_images += 1e-7  # e.g. another scipy's resampling
    assert dataset_identity(data) == identity
    other = load_synthetic(image_size=32, train_patients=5, test_patients=2)
    assert dataset_identity(other)["pool_groups_sha256"] != identity["pool_groups_sha256"]


def test_round0_trains_train_initial_iterations_and_the_others_train_their_own(tiny_config, tmp_path):
    config = tiny_config("train.initial_iterations=5", "train.full_iterations=4")
    _run(config, tmp_path)
    layout = RunLayout(tmp_path)
    assert read_record(layout.shared(0, "round0"))["iterations"] == 5
    assert read_record(layout.strategy_round("random", 0, 0))["iterations"] == 5
    assert [read_record(layout.strategy_round("random", 0, r))["iterations"] for r in (1, 2)] == [3, 3]
    assert read_record(layout.shared(0, "full"))["iterations"] == 4
