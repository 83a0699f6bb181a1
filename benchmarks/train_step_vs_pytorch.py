"""One contrastive training step: kerascon against the SupContrast authors' PyTorch code.

Both sides train a CIFAR ResNet-18 (3x3 stride-1 stem, no max-pool) with the MLP head
512 -> 512 -> 128 and the SupCon loss on the same batch (``--batch`` examples x 2 views,
32 px, fp32) with SGD (lr 0.05, momentum 0.9, weight decay 1e-4), each on ``--threads``
threads, in one process. The PyTorch side is a transcription of HobbitLong/SupContrast
(``networks/resnet_big.py``: BasicBlock, ResNet, SupConResNet; ``losses.py``: SupConLoss;
``main_supcon.py``: the two views concatenated on the batch axis, the loss, zero_grad,
backward, step), written out again below. kerascon's side is
``SupConModel.from_architecture("resnet18")`` compiled with
``kerascon.optimizers.build_optimizer("sgd", ...)`` and stepped with ``train_on_batch``
(its compiled train function: preprocessing, the merged views, encoder, head, loss,
gradient and optimizer update), once with Keras' default ``jit_compile="auto"`` and, with
``--xla``, once with ``jit_compile=True``.

The steps alternate call by call (one PyTorch step, one kerascon step, ...), with a short
pause before each, so a change of load on a shared machine hits both sides alike. The
medians, the load average (before and after) and the machine record (CPU model, vector
extensions, thread and oneDNN settings) are printed; ``--json PATH`` also writes them.

    PYTHONPATH=. python benchmarks/train_step_vs_pytorch.py --repeats 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.common import runtime_line, runtime_record  # noqa: E402

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)


# ------------------------------------------------------------------ the authors' PyTorch code
def authors_supcon_resnet18():
    """SupConResNet(name="resnet18", head="mlp", feat_dim=128) of networks/resnet_big.py."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, in_planes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.shortcut = nn.Sequential()
            if stride != 1 or in_planes != self.expansion * planes:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, self.expansion * planes, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(self.expansion * planes))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += self.shortcut(x)
            return F.relu(out)

    class ResNet(nn.Module):
        def __init__(self, block, num_blocks, in_channel=3):
            super().__init__()
            self.in_planes = 64
            self.conv1 = nn.Conv2d(in_channel, 64, 3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.layer1 = self._make_layer(block, 64, num_blocks[0], stride=1)
            self.layer2 = self._make_layer(block, 128, num_blocks[1], stride=2)
            self.layer3 = self._make_layer(block, 256, num_blocks[2], stride=2)
            self.layer4 = self._make_layer(block, 512, num_blocks[3], stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def _make_layer(self, block, planes, num_blocks, stride):
            layers = []
            for s in [stride] + [1] * (num_blocks - 1):
                layers.append(block(self.in_planes, planes, s))
                self.in_planes = planes * block.expansion
            return nn.Sequential(*layers)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
            return torch.flatten(self.avgpool(out), 1)

    class SupConResNet(nn.Module):
        def __init__(self, dim_in=512, feat_dim=128):
            super().__init__()
            self.encoder = ResNet(BasicBlock, [2, 2, 2, 2])
            self.head = nn.Sequential(nn.Linear(dim_in, dim_in), nn.ReLU(inplace=True),
                                      nn.Linear(dim_in, feat_dim))

        def forward(self, x):
            return F.normalize(self.head(self.encoder(x)), dim=1)

    return SupConResNet()


def authors_supcon_loss(features, labels, temperature=0.07, base_temperature=0.07):
    """SupConLoss.forward of losses.py (contrast_mode="all")."""
    import torch

    device = features.device
    batch_size = features.shape[0]
    labels = labels.contiguous().view(-1, 1)
    mask = torch.eq(labels, labels.T).float().to(device)
    contrast_count = features.shape[1]
    contrast_feature = torch.cat(torch.unbind(features, dim=1), dim=0)
    anchor_feature, anchor_count = contrast_feature, contrast_count
    anchor_dot_contrast = torch.div(torch.matmul(anchor_feature, contrast_feature.T), temperature)
    logits_max, _ = torch.max(anchor_dot_contrast, dim=1, keepdim=True)
    logits = anchor_dot_contrast - logits_max.detach()
    mask = mask.repeat(anchor_count, contrast_count)
    logits_mask = torch.scatter(torch.ones_like(mask), 1,
                                torch.arange(batch_size * anchor_count).view(-1, 1).to(device), 0)
    mask = mask * logits_mask
    exp_logits = torch.exp(logits) * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    mean_log_prob_pos = (mask * log_prob).sum(1) / mask.sum(1)
    loss = -(temperature / base_temperature) * mean_log_prob_pos
    return loss.view(anchor_count, batch_size).mean()


def torch_side(views, labels, threads, lr):
    """The authors' train loop body on one batch (views already normalised, as ToTensor +
    Normalize leave them)."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = authors_supcon_resnet18()
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    mean = np.asarray(CIFAR_MEAN, np.float32)
    std = np.asarray(CIFAR_STD, np.float32)
    normalised = (views / 255.0 - mean) / std                        # [B, 2, H, W, 3]
    images = [torch.from_numpy(np.ascontiguousarray(normalised[:, v].transpose(0, 3, 1, 2)))
              for v in range(2)]
    target = torch.from_numpy(labels.astype(np.int64))

    def step():
        x = torch.cat([images[0], images[1]], dim=0)
        bsz = target.shape[0]
        features = model(x)
        f1, f2 = torch.split(features, [bsz, bsz], dim=0)
        features = torch.cat([f1.unsqueeze(1), f2.unsqueeze(1)], dim=1)
        loss = authors_supcon_loss(features, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


# ------------------------------------------------------------------ kerascon
def kerascon_side(views, labels, lr, jit_compile):
    import keras

    from kerascon.model import SupConModel
    from kerascon.optimizers import build_optimizer

    keras.utils.set_random_seed(0)
    model = SupConModel.from_architecture(
        "resnet18", stem="cifar", mean=CIFAR_MEAN, std=CIFAR_STD,
        projection_hidden_dim=512, projection_dim=128, temperature=0.07)
    model.compile(optimizer=build_optimizer("sgd", lr, momentum=0.9, weight_decay=1e-4),
                  jit_compile=jit_compile)

    def step():
        return float(model.train_on_batch(views, labels, return_dict=True)["loss"])

    return step


def time_alternately(steps, repeats, warmup, pause):
    for _ in range(warmup):
        for step in steps:
            step()
    times = [[] for _ in steps]
    for _ in range(repeats):
        for step, record in zip(steps, times):
            time.sleep(pause)
            start = time.perf_counter()
            step()
            record.append(time.perf_counter() - start)
    return times


def configure_tensorflow(threads):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def add_step_arguments(parser):
    """The step's size and threads: ``--batch``, ``--image-size``, ``--threads``."""
    parser.add_argument("--batch", type=int, default=64, help="examples per step (x 2 views)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)


def synthetic_batch(batch, image_size, seed=0):
    """One batch both sides train on: views float32 [B, 2, S, S, 3] in [0, 255], int32 labels."""
    rng = np.random.default_rng(seed)
    views = rng.uniform(0, 255, size=(batch, 2, image_size, image_size, 3)).astype("float32")
    return views, rng.integers(0, 10, size=batch).astype("int32")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_step_arguments(p)
    p.add_argument("--repeats", type=int, default=7, help="timed steps per side")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per side (tracing)")
    p.add_argument("--pause", type=float, default=0.2, help="seconds of sleep before each step")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--xla", action="store_true", help="also time kerascon with jit_compile=True")
    p.add_argument("--json", default=None,
                   help="also write the rows, each with its step times and the machine record")
    args = p.parse_args(argv)
    configure_tensorflow(args.threads)
    s = args.image_size
    views, labels = synthetic_batch(args.batch, s)
    sides = [("PyTorch, SupContrast (transcribed)", torch_side(views, labels, args.threads, args.lr)),
             ("kerascon (TF, jit_compile='auto')", kerascon_side(views, labels, args.lr, "auto"))]
    if args.xla:
        sides.append(("kerascon (TF, jit_compile=True)", kerascon_side(views, labels, args.lr, True)))
    before = runtime_record()  # both frameworks are loaded: their thread pools are read
    times = time_alternately([step for _, step in sides], args.repeats, args.warmup, args.pause)
    after = runtime_record()
    print(f"ResNet-18 (CIFAR stem) + MLP head, {args.batch} x 2 views x {s} px, fp32, "
          f"{args.threads} threads, {args.repeats} alternating steps per side; "
          f"load average {before['load_average']} (before), {after['load_average']} (after)")
    print(runtime_line(before))
    print("| implementation | median s | min s | max s | speed vs PyTorch |")
    print("|---|---:|---:|---:|---:|")
    reference = statistics.median(times[0])
    for (name, _), t in zip(sides, times):
        median = statistics.median(t)
        print(f"| {name} | {median:.3f} | {min(t):.3f} | {max(t):.3f} | {reference / median:.2f}x |")
    if args.json:
        machine = {**before, "load_average_before": before["load_average"],
                   "load_average_after": after["load_average"]}
        with open(args.json, "w") as f:
            json.dump([{"name": name, "times_s": t, "machine": machine}
                       for (name, _), t in zip(sides, times)], f, indent=1)


if __name__ == "__main__":
    main()
