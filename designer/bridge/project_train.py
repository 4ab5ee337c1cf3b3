"""Train the model of this project on one device, or on many processes (DistributedDataParallel).

    python train.py                                  # one process: a GPU if there is one
    torchrun --nproc_per_node=4 train.py             # four processes (four GPUs, or CPU cores)
    python train.py --epochs 20 --batch 128 --lr 0.05 --dataset cifar10 --download

The settings are the design's training settings in ConvNet Designer, saved in config.json
beside this file; options override them (python train.py --help lists them). The data sets,
the order of the batches, the optimizer, the schedule, the seeds and the checkpoint files are
the app's own code, copied into convlib/ beside this file: the synthetic shapes and textures
(the same images for the same seed), MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 from their
standard files (downloaded with --download, MD5-checked, into the app's cache folder), a folder
of images (one sub-folder per class) or a .npz with arrays x and y (never unpickled).

Under torchrun every process takes its share of each batch (every N-th sample of it), --batch
is the batch of all processes together (each takes batch / processes), gradients are averaged,
so a run on N processes takes the same steps as one process with the same batch, and one
process the same batches as ConvNet Designer with the same seed. Process 0 alone prints and
writes checkpoints: best.pt (best validation accuracy) and last.pt, each
{"format", "version", "state_dict", "meta"}, read back with
    torch.load(path, weights_only=True)["state_dict"]
into the model class of model.py (and into ConvNet Designer).

BatchNorm normalises each process's share of the batch, as DistributedDataParallel does; on
CUDA with several processes it is made SyncBatchNorm (the whole batch) unless --no-sync-bn.

This file and convlib/ need PyTorch and NumPy only (Pillow reads more image formats than PNG);
they were written by ConvNet Designer and do not import it. This file holds the script's own
part: its options, the processes, the loop and what it prints.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from convlib.training.basics import (
    SetupError,
    make_grad_scaler,
    make_optimizer,
    make_scheduler,
    pick_device,
    resolve_precision,
    save_checkpoint,
    seed_everything,
)
from convlib.training.batches import make_batches
from convlib.training.data.common import DatasetError
from convlib.training.data.sets import DATASETS, load_datasets
from convlib.training.events import (
    DEVICES,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    DataConfig,
    TrainConfig,
)

HERE = Path(__file__).resolve().parent


def checked(make, *args):
    """make(*args), or the run ends with the message of the SetupError it raised."""
    try:
        return make(*args)
    except SetupError as error:
        raise SystemExit(f"error: {error}: {error.advice}") from None


# =============================================================================================
# Settings


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(HERE / "config.json"),
                   help="the settings file (default: config.json beside this script)")
    p.add_argument("--dataset", choices=DATASETS)
    p.add_argument("--data-path", help="folder of the standard files, an image folder or a .npz")
    p.add_argument("--download", action="store_true", help="fetch the standard files")
    p.add_argument("--train-size", type=int, help="training samples (at most)")
    p.add_argument("--val-size", type=int, help="validation samples (at most)")
    p.add_argument("--no-augment", action="store_true", help="no random crops or flips")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch", type=int, help="the batch of all processes together")
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--momentum", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--schedule", choices=SCHEDULES)
    p.add_argument("--device", choices=DEVICES)
    p.add_argument("--precision", choices=PRECISIONS,
                   help="bf16 / fp16: mixed precision (fp16 needs CUDA)")
    p.add_argument("--channels-last", action="store_true", help="channels_last (CUDA)")
    p.add_argument("--seed", type=int)
    p.add_argument("--workers", type=int, help="data loader workers per process")
    p.add_argument("--checkpoints", metavar="DIR", help="where best.pt and last.pt go")
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many optimisation steps (a short trial)")
    p.add_argument("--log-every", type=int, default=50, help="print every N steps")
    p.add_argument("--no-sync-bn", action="store_true",
                   help="keep per-process BatchNorm on CUDA with several processes")
    return p.parse_args(argv)


def _known(record, values: dict) -> dict:
    """The entries of `values` that are fields of the dataclass `record` (others are left out:
    a config.json of a newer ConvNet Designer still works)."""
    names = {f.name for f in dataclasses.fields(record)}
    return {k: v for k, v in values.items() if k in names}


def settings(args) -> tuple[TrainConfig, dict]:
    """(the run's settings: config.json's, overridden by the options; the model's entries of
    config.json: model_class, input_shape, outputs, flatten_output, design)."""
    path = Path(args.config)
    saved = {}
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
    elif args.config != str(HERE / "config.json"):
        raise SystemExit(f"error: {path}: no such file")
    train = saved.get("train", {})
    cfg = TrainConfig(**{**_known(TrainConfig, train),
                         "data": DataConfig(**_known(DataConfig, train.get("data", {})))})
    d = cfg.data
    for key, value in (("name", args.dataset), ("path", args.data_path),
                       ("train_size", args.train_size), ("val_size", args.val_size),
                       ("seed", args.seed)):
        if value is not None:
            setattr(d, key, value)
    if args.download:
        d.download = True
    if args.no_augment:
        d.augment = False
    for key, value in (("epochs", args.epochs), ("batch_size", args.batch),
                       ("optimizer", args.optimizer), ("lr", args.lr),
                       ("momentum", args.momentum), ("weight_decay", args.weight_decay),
                       ("schedule", args.schedule), ("device", args.device),
                       ("precision", args.precision), ("seed", args.seed),
                       ("num_workers", args.workers), ("checkpoint_dir", args.checkpoints)):
        if value is not None:
            setattr(cfg, key, value)
    if args.channels_last:
        cfg.channels_last = True
    model = {k: saved.get(k) for k in ("model_class", "input_shape", "outputs", "flatten_output",
                                       "design")}
    return cfg, model


def model_class(name: str | None):
    """The class `name` of model.py beside this script (its first model class without one)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import model as model_file

    cls = getattr(model_file, name or "", None)
    if cls is None:
        cls = next(v for v in vars(model_file).values()
                   if isinstance(v, type) and issubclass(v, torch.nn.Module)
                   and v.__module__ == model_file.__name__)
    return cls


def training_data(cfg: TrainConfig, shape, device: torch.device, rank: int = 0, world: int = 1,
                  say=print):
    """(train set, validation set, their DatasetInfo, this process's training batches, its
    validation batches): ConvNet Designer's data sets for `cfg.data`, walked in its order (a
    generator seeded with `cfg.seed`), process `rank` of `world` taking every world-th sample
    of each batch of `cfg.batch_size`; the batches are on `device`."""
    told = set()

    def progress(done: int, total, message: str) -> None:
        if message not in told:
            told.add(message)
            say(f"{message} ...")

    train, val, info = load_datasets(cfg.data, shape, progress=progress)
    cl = cfg.channels_last and device.type == "cuda"
    generator = torch.Generator().manual_seed(cfg.seed)
    share = (rank, world)
    train_batches, _ = make_batches(train, cfg.batch_size, True, generator, device, cl,
                                    cfg.num_workers, share)
    val_batches, _ = make_batches(val, cfg.batch_size, False, None, device, cl, cfg.num_workers,
                                  share)
    return train, val, info, train_batches, val_batches


# =============================================================================================
# The run


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg, model_cfg = settings(args)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    distributed = world > 1
    device = checked(pick_device, cfg.device, local_rank if distributed else None)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.set_device(device)
    if distributed:
        dist.init_process_group("nccl" if cuda else "gloo")
    main_process = rank == 0

    def say(text: str) -> None:
        if main_process:
            print(text, flush=True)

    batch = int(cfg.batch_size)
    if batch < 1 or cfg.epochs < 1:
        raise SystemExit("error: --batch and --epochs must be at least 1")
    if batch % world:
        raise SystemExit(f"error: the batch ({batch}) must divide among the {world} processes")
    per_rank = batch // world
    notes: list[str] = []
    prec = checked(resolve_precision, cfg.precision, device, notes)
    for note in notes:
        say(f"note: {note}")
    seed_everything(cfg.seed)

    cls = model_class(model_cfg.get("model_class"))
    shape = tuple(model_cfg.get("input_shape") or cls.input_shape)
    fetch_first = distributed and cfg.data.download  # process 0 downloads, the others wait
    if fetch_first and not main_process:
        dist.barrier()
    try:
        train_ds, val_ds, info, train_batches, val_batches = training_data(
            cfg, shape, device, rank, world, say)
    except DatasetError as error:
        raise SystemExit(f"error: {error}") from None
    if fetch_first and main_process:
        dist.barrier()
    if len(train_ds) < batch:
        raise SystemExit(f"error: {len(train_ds)} training images make no batch of {batch}")
    seed_everything(cfg.seed)  # the initial weights ConvNet Designer gives the model
    net = cls()
    outputs, flatten = model_cfg.get("outputs"), model_cfg.get("flatten_output")
    if outputs is None or flatten is None:
        with torch.no_grad():
            out_shape = net.eval()(torch.zeros(1, *shape)).shape[1:]
        outputs, flatten = int(out_shape[0]), len(out_shape) > 1
        net.train()
    if outputs < info.classes:
        raise SystemExit(f"error: the data set has {info.classes} classes but the model gives "
                         f"{outputs} scores")
    if distributed and cuda and not args.no_sync_bn:
        net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    memory = torch.channels_last if cfg.channels_last and cuda else torch.preserve_format
    net = net.to(device, memory_format=memory)
    model = torch.nn.parallel.DistributedDataParallel(
        net, device_ids=[device.index] if cuda else None) if distributed else net
    scaler = make_grad_scaler() if prec.scaler else None
    steps = len(train_batches)
    optimizer = checked(make_optimizer, cfg, model.parameters())
    scheduler, per_step = checked(make_scheduler, cfg, optimizer, steps)
    ckpt_dir = Path(cfg.checkpoint_dir or "checkpoints")
    if not ckpt_dir.is_absolute():
        ckpt_dir = Path.cwd() / ckpt_dir
    what = (f"{info.name}: {info.train_size} training / {info.val_size} validation images, "
            f"{info.classes} classes, augmentation {info.augmentation}")
    say(f"training {model_cfg.get('design') or cls.__name__} on {world} process"
        f"{'es' if world > 1 else ''} ({device.type}"
        f"{', ' + prec.name if prec.autocast_dtype else ''}): {what}; batch {batch} "
        f"({per_rank} per process), {steps} steps per epoch")
    if info.note:
        say(f"data: {info.note}")

    def reduce(*values: float) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=device)
        if distributed:
            dist.all_reduce(t)
        return t.tolist()

    meta = {"design": model_cfg.get("design"), "model_class": cls.__name__,
            "input_shape": list(shape), "classes": info.classes,
            "class_names": list(info.class_names), "world_size": world,
            "config": cfg.to_dict(),
            # what the inputs were normalised with, as the app's runs record it: model.py's
            # from_checkpoint() gives the model these (its preprocess() applies them)
            "normalization": None if getattr(info, "mean", None) is None else {
                "mean": [float(v) for v in info.mean], "std": [float(v) for v in info.std],
                "uint8_divisor": 255,
                "rule": "x = images / 255 for uint8 images (0..255), float images as they are; "
                        "then (x - mean) / std per channel"}}
    best = None
    done = 0
    max_steps = args.max_steps
    t0 = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        train_ds.set_epoch(epoch)
        val_ds.set_epoch(epoch)
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        seen = 0
        t_epoch = time.perf_counter()
        stopped = False
        for step, (x, y) in enumerate(train_batches, 1):
            optimizer.zero_grad(set_to_none=True)
            with prec.autocast(device):
                out = model(x)
                if flatten:
                    out = out.flatten(1)
                loss = F.cross_entropy(out, y)
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            if scheduler is not None and per_step:
                scheduler.step()
            done += 1
            loss_sum += loss.detach().float() * len(y)
            correct += (out.argmax(1) == y).sum()
            seen += len(y)
            if args.log_every and (step % args.log_every == 0 or step == steps):
                lsum, csum, n = reduce(float(loss_sum), float(correct), seen)
                say(f"epoch {epoch}/{cfg.epochs} step {step}/{steps}: loss {lsum / n:.4f} "
                    f"acc {csum / n:.1%} lr {optimizer.param_groups[0]['lr']:.3g}")
            if max_steps is not None and done >= max_steps:
                stopped = True
                break
        if scheduler is not None and not per_step:
            scheduler.step()
        lsum, csum, n = reduce(float(loss_sum), float(correct), seen)
        net.eval()  # the module itself: DistributedDataParallel would sync in its forward
        vl = vc = vn = 0.0
        with torch.no_grad():
            for x, y in val_batches:  # each validation image once, on one of the processes
                with prec.autocast(device):
                    out = net(x)
                    if flatten:
                        out = out.flatten(1)
                vl += float(F.cross_entropy(out.float(), y, reduction="sum"))
                vc += float((out.argmax(1) == y).sum())
                vn += len(y)
        vl, vc, vn = reduce(vl, vc, vn)
        val_acc = vc / vn if vn else math.nan
        say(f"epoch {epoch}/{cfg.epochs}: train loss {lsum / max(n, 1):.4f} acc "
            f"{csum / max(n, 1):.1%}, val loss {vl / max(vn, 1):.4f} acc {val_acc:.1%} "
            f"({time.perf_counter() - t_epoch:.1f} s)")
        if main_process:
            entry = {**meta, "epoch": epoch, "steps": done, "train_loss": lsum / max(n, 1),
                     "val_loss": vl / max(vn, 1) if vn else None,
                     "val_accuracy": val_acc if vn else None}
            if best is None or (vn and val_acc > best):
                best = val_acc
                save_checkpoint(ckpt_dir / "best.pt", net, {**entry, "file": "best.pt"})
            save_checkpoint(ckpt_dir / "last.pt", net, {**entry, "file": "last.pt"})
        if stopped:
            say(f"stopped after {done} steps (--max-steps)")
            break
    say(f"finished in {time.perf_counter() - t0:.1f} s; checkpoints in {ckpt_dir}")
    if distributed:
        dist.barrier()
        # DistributedDataParallel's reducer goes before the process group it uses: left to the
        # end of main(), it was destroyed after it, and 1 run in 8 of two CPU processes ended
        # in "terminate called without an active exception" (0 in 16 with this)
        del model
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
