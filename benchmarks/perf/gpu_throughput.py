"""Training throughput on one GPU: the shared trainer against a plain fp32 loop, and chain packing.

The issue's GPU targets: at 256 x 256, SBCNet width 16, batch 16, the shared trainer (data and
augmentation on the device, bf16 autocast, channels_last, no host synchronisation per step)
reaches at least 2x the images per second of a plain fp32 loop of the same model, loss and
batch; and several chains packed on the card (``executor.chains_per_gpu``) lift the total
further. Every figure is a ratio of timings taken in the same run on the same card::

    python -m benchmarks.perf.gpu_throughput --json gpu_throughput.json         # CUDA defaults
    python -m benchmarks.perf.gpu_throughput --device cpu --size 32 --width 4 \\
        --iterations 3 --chains 1,2                                               # a CPU dry run

``test_gpu_perf.py`` runs it under pytest-benchmark when CUDA is present.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import queue
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from alstrategies.data.synthetic import load_synthetic
from alstrategies.models import build_criterion, build_model
from alstrategies.training.targets import TargetCache
from alstrategies.training.trainer import TrainConfig, Trainer


@dataclass(frozen=True)
class Setting:
    """One throughput measurement's model, data and schedule."""

    device: str = "cuda"
    size: int = 256
    width: int = 16
    batch: int = 16
    iterations: int = 200
    pool: int = 128
    heads: str = "sbc"
    compile: bool = False


@dataclass
class Figures:
    """Images per second of each contender and the ratios the issue tracks."""

    setting: dict
    device_name: str
    torch_version: str
    images_per_second: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_data(setting: Setting, device: torch.device) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Phantom slices at ``setting.size`` and their targets (labels, and distance maps for
    SBCNet), resident on ``device`` as the harness keeps them."""
    patients = max(2, int(np.ceil(setting.pool / 8)))
    data = load_synthetic(image_size=setting.size, train_patients=patients)
    count = min(setting.pool, data.pool_size)
    images = torch.from_numpy(np.ascontiguousarray(data.pool_images[:count])).to(device)
    labels = torch.from_numpy(data.pool_labels[:count].astype(np.int64)).to(device)
    cache = TargetCache(labels, data.num_classes)
    targets = cache.targets(np.arange(count), need_distance=setting.heads == "sbc")
    return images, targets


def _model_and_criterion(setting: Setting) -> tuple[torch.nn.Module, object]:
    model_config = {"width": setting.width, "heads": setting.heads}
    return build_model(model_config, 4, seed=0), build_criterion(model_config, {})


def plain_fp32_loop(
    setting: Setting, images: torch.Tensor, targets: dict[str, torch.Tensor], iterations: int
) -> float:
    """Seconds for ``iterations`` steps of the plainest correct loop: fp32, NCHW, SGD with
    momentum, random batches indexed on the device, the same model and loss, no augmentation,
    PyTorch's default cuDNN settings (no autotuning; TF32 convolutions as by default)."""
    device = images.device
    model, criterion = _model_and_criterion(setting)
    model = model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    generator = torch.Generator(device=device).manual_seed(0)
    with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=False, allow_tf32=True):
        _synchronize(device)
        start = time.perf_counter()
        for _ in range(iterations):
            rows = torch.randint(0, images.shape[0], (setting.batch,), generator=generator, device=device)
            losses = criterion(model(images[rows]), {key: value[rows] for key, value in targets.items()})
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            optimizer.step()
        _synchronize(device)
    return time.perf_counter() - start


def shared_trainer(
    setting: Setting, images: torch.Tensor, targets: dict[str, torch.Tensor], iterations: int
) -> float:
    """Seconds for ``iterations`` steps of the harness's trainer with its CUDA settings
    (augmentation on the device, bf16 autocast, channels_last; ``torch.compile`` if asked)."""
    device = images.device
    model, criterion = _model_and_criterion(setting)
    config = TrainConfig(
        iterations=iterations, batch_size=setting.batch, augment=True, compile=setting.compile
    )
    _synchronize(device)
    start = time.perf_counter()
    Trainer(config, device).fit(model, images, targets, criterion, seed=0)
    _synchronize(device)
    return time.perf_counter() - start


def _packed_worker(setting: Setting, barrier, results) -> None:
    """One packed chain: build everything, warm up, wait for the others, then time the trainer."""
    device = torch.device(setting.device)
    torch.set_num_threads(1)
    images, targets = training_data(setting, device)
    shared_trainer(setting, images, targets, max(2, setting.iterations // 10))  # warm-up
    barrier.wait(timeout=600)
    start = time.time()
    shared_trainer(setting, images, targets, setting.iterations)
    results.put((start, time.time()))


def packed_images_per_second(setting: Setting, chains: int, timeout: float = 900.0) -> float:
    """Total training images per second of ``chains`` trainer processes sharing the device,
    over the window from the first start to the last finish. A chain that fails stops the
    measurement at once (no waiting on the others)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(chains)
    results = context.Queue()
    workers = [
        context.Process(target=_packed_worker, args=(setting, barrier, results)) for _ in range(chains)
    ]
    for worker in workers:
        worker.start()
    spans: list[tuple[float, float]] = []
    deadline = time.time() + timeout
    try:
        while len(spans) < chains:
            try:
                spans.append(results.get(timeout=2))
            except queue.Empty:
                failed = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
                if failed or time.time() > deadline:
                    raise RuntimeError(
                        f"packed chains failed (exit codes {failed})" if failed else "packed chains timed out"
                    ) from None
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
    window = max(end for _, end in spans) - min(start for start, _ in spans)
    return chains * setting.iterations * setting.batch / window


def measure(setting: Setting, chains: tuple[int, ...] = (1, 2, 4), repeats: int = 3) -> Figures:
    """Interleaved best-of-``repeats`` timings of both loops, then the packed throughputs."""
    device = torch.device(setting.device)
    images, targets = training_data(setting, device)
    warm = max(2, setting.iterations // 10)
    plain_fp32_loop(setting, images, targets, warm)  # cuDNN and allocator warm-up for both
    shared_trainer(setting, images, targets, warm)
    times: dict[str, list[float]] = {"plain_fp32_loop": [], "shared_trainer": []}
    for _ in range(repeats):
        times["plain_fp32_loop"].append(plain_fp32_loop(setting, images, targets, setting.iterations))
        times["shared_trainer"].append(shared_trainer(setting, images, targets, setting.iterations))
    per_second = {name: setting.iterations * setting.batch / min(values) for name, values in times.items()}
    for count in chains:
        per_second[f"packed_{count}"] = packed_images_per_second(setting, count)
    ratios = {"shared_trainer_over_plain_fp32": per_second["shared_trainer"] / per_second["plain_fp32_loop"]}
    if 1 in chains:
        for count in chains:
            if count > 1:
                ratios[f"packed_{count}_over_packed_1"] = (
                    per_second[f"packed_{count}"] / per_second["packed_1"]
                )
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    return Figures(
        setting=asdict(setting),
        device_name=device_name or "cpu",
        torch_version=torch.__version__,
        images_per_second={k: round(v, 2) for k, v in per_second.items()},
        ratios={k: round(v, 3) for k, v in ratios.items()},
    )


def main(argv: list[str] | None = None) -> Figures:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Setting()
    parser.add_argument("--device", default=defaults.device)
    parser.add_argument("--size", type=int, default=defaults.size)
    parser.add_argument("--width", type=int, default=defaults.width)
    parser.add_argument("--batch", type=int, default=defaults.batch)
    parser.add_argument("--iterations", type=int, default=defaults.iterations)
    parser.add_argument("--pool", type=int, default=defaults.pool, help="images resident on the device")
    parser.add_argument("--heads", choices=("sbc", "plain"), default=defaults.heads)
    parser.add_argument("--compile", action="store_true", help="torch.compile the trainer's forward")
    parser.add_argument("--chains", default="1,2,4", help="packed chain counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    setting = Setting(
        device=args.device,
        size=args.size,
        width=args.width,
        batch=args.batch,
        iterations=args.iterations,
        pool=args.pool,
        heads=args.heads,
        compile=args.compile,
    )
    if setting.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("no CUDA device is visible; pass --device cpu (with a small --size) for a dry run")
    chains = tuple(int(c) for c in args.chains.split(",") if c.strip())
    figures = measure(setting, chains, args.repeats)
    text = json.dumps(asdict(figures), indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as handle:
            handle.write(text + "\n")
    return figures


if __name__ == "__main__":
    main()
