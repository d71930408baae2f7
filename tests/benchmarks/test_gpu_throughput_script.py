"""The GPU throughput benchmark's machinery, dry-run on the CPU at a tiny size (no timings are
asserted: speed lives in benchmarks/perf). GPU time is short, so the script must work first time."""

import json

import torch

from benchmarks.perf.gpu_throughput import Setting, main, plain_fp32_loop, shared_trainer, training_data


def test_both_loops_train_the_same_model_on_device_resident_data():
    setting = Setting(device="cpu", size=32, width=4, batch=4, iterations=2, pool=12)
    images, targets = training_data(setting, torch.device("cpu"))
    assert images.shape == (12, 1, 32, 32) and set(targets) == {"labels", "distance"}
    assert targets["distance"].shape == (12, 4, 32, 32)  # C maps, the background included
    assert plain_fp32_loop(setting, images, targets, 2) > 0
    assert shared_trainer(setting, images, targets, 2) > 0


def test_the_command_line_writes_every_figure(tmp_path):
    out = tmp_path / "figures.json"
    argv = ["--device", "cpu", "--size", "32", "--width", "4", "--batch", "4", "--iterations", "2"]
    main([*argv, "--pool", "12", "--chains", "1,2", "--repeats", "1", "--json", str(out)])
    figures = json.loads(out.read_text())
    per_second = figures["images_per_second"]
    assert set(per_second) == {"plain_fp32_loop", "shared_trainer", "packed_1", "packed_2"}
    assert all(value > 0 for value in per_second.values())
    assert set(figures["ratios"]) == {"shared_trainer_over_plain_fp32", "packed_2_over_packed_1"}
    assert figures["setting"]["size"] == 32 and figures["torch_version"] == torch.__version__


def test_a_failing_packed_chain_stops_the_measurement_at_once():
    import pytest

    from benchmarks.perf.gpu_throughput import packed_images_per_second

    broken = Setting(device="no-such-device", size=32, width=4, batch=4, iterations=2, pool=12)
    with pytest.raises(RuntimeError, match="packed chains failed"):
        packed_images_per_second(broken, chains=2, timeout=120)
