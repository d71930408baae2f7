"""Each network's round-0 schedule by one convergence criterion
(``benchmarks/calibration/convergence.py``), on round-0 records written here, and the 100 %
model's from a calibration curve."""

from __future__ import annotations

import json

import pytest

from benchmarks.calibration.convergence import choose, collect, main

# mean round-0 Dice per iterations: SBCNet stops paying from 1000 on, the U-Net never on this grid
SBC = {500: [0.60, 0.64], 1000: [0.68, 0.70], 2000: [0.69, 0.70]}
PLAIN = {500: [0.40, 0.30], 1000: [0.55, 0.57], 2000: [0.60, 0.62]}


def _folder(root, name, iterations, dice, paper):
    folder = root / name
    config = {"train": {"initial_iterations": iterations}, "model": {"heads": "sbc"}}
    config["protocol"] = {"networks": "paper" if paper else "shared"}
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    for seed, value in enumerate(dice):
        (folder / "shared" / f"seed{seed}").mkdir(parents=True)
        stem = "round0_plain" if paper else "round0"
        (folder / "shared" / f"seed{seed}" / f"{stem}.json").write_text(json.dumps({"dice": value}))
    return folder


@pytest.fixture
def folders(tmp_path):
    made = [_folder(tmp_path, f"sbc_{n}", n, d, False) for n, d in SBC.items()]
    made += [_folder(tmp_path, f"plain_{n}", n, d, True) for n, d in PLAIN.items()]
    return made


def test_records_are_collected_per_network_iterations_and_seed(folders):
    frame = collect(folders)
    assert len(frame) == 12 and set(frame["network"]) == {"sbc", "plain"}
    row = frame[(frame.network == "plain") & (frame.iterations == 500) & (frame.seed == 1)]
    assert row["dice"].item() == 0.30


def test_the_smallest_n_whose_doubling_adds_less_than_the_gain_is_chosen(folders):
    choices = choose(collect(folders))
    # SBCNet: 500 -> 1000 adds 7 points, 1000 -> 2000 adds 0.5: 1000
    assert (choices["sbc"].iterations, choices["sbc"].converged) == (1000, True)
    # U-Net: +21 and +5 points: the longest, not converged
    assert (choices["plain"].iterations, choices["plain"].converged) == (2000, False)
    # with a criterion of 6 points the U-Net's 1000 qualifies (+5), SBCNet's 500 not (+7)
    loose = choose(collect(folders), gain=0.06)
    assert loose["plain"].iterations == 1000 and loose["sbc"].iterations == 1000


def test_the_command_prints_the_table_or_one_choice(folders, tmp_path, capsys):
    main([str(f) for f in folders] + ["--out", str(tmp_path / "r0.csv")])
    text = capsys.readouterr().out
    assert "| plain | 500 | 2 | 35.00 ± 7.07 |" in text and "- sbc: 1000 iterations" in text
    assert (tmp_path / "r0.csv").read_text().startswith("network,iterations,seed,dice")
    main([str(f) for f in folders] + ["--choice", "plain"])
    assert capsys.readouterr().out.strip() == "2000"
    with pytest.raises(SystemExit):
        main([str(f) for f in folders] + ["--choice", "unet"])
    assert "no round-0 records of network 'unet'" in capsys.readouterr().err


def test_the_100_percent_models_length_is_read_from_full_records(tmp_path, capsys):
    folders = []
    for n, dice in {1000: [0.74, 0.75], 2000: [0.79, 0.80], 4000: [0.80, 0.81]}.items():
        folder = _folder(tmp_path, f"full_{n}", 500, [0.6, 0.6], False)
        config = json.loads((folder / "config.json").read_text())
        config["train"]["full_iterations"] = n
        (folder / "config.json").write_text(json.dumps(config))
        for seed, value in enumerate(dice):
            (folder / "shared" / f"seed{seed}" / "full.json").write_text(json.dumps({"dice": value}))
        folders.append(str(folder))
    main([*folders, "--stage", "full", "--choice", "sbc"])
    assert capsys.readouterr().out.strip() == "2000"  # +5 points, then +1
    assert set(collect([tmp_path / "full_1000"], "full")["dice"]) == {0.74, 0.75}
    with pytest.raises(ValueError, match="stage must be one of round0, full"):
        collect([tmp_path / "full_1000"], "round1")
