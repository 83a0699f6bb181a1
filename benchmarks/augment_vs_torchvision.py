"""Two-view SimCLR/SupCon augmentation: kerascon.data against torchvision + DataLoader.

One process, the same images, the same augmentation parameters, the same number of
workers on both sides:

* torchvision: the SupContrast authors' ``main_supcon.py`` transform -- RandomResizedCrop
  (scale 0.2-1), RandomHorizontalFlip, RandomApply(ColorJitter(0.4, 0.4, 0.4, 0.1),
  p=0.8), RandomGrayscale(0.2), [RandomApply(GaussianBlur(kernel 10% of the size rounded
  to odd, sigma 0.1-2), p=0.5)], ToTensor, Normalize -- wrapped in TwoCropTransform, in a
  ``DataLoader(batch_size, shuffle=True, num_workers=W, persistent_workers=True)``; images
  are PIL images made from the arrays (as torchvision's CIFAR10 does) or read from an
  image folder by ``torchvision.datasets.ImageFolder`` (PIL decode in the workers).
* kerascon: ``kerascon.data.multiview_dataset(source, views=2, augment=
  make_augmentation("simclr", size, crop_scale=(0.2, 1), blur=...))`` on
  ``from_arrays`` or ``from_image_folder`` (tf.data's parallel decode), with tf.data's
  private thread pool set to W threads (``options.threading.private_threadpool_size``).
  Batches are float32 [B, 2, S, S, 3] in [0, 255] (kerascon normalises inside the model).

Images: the first ``--images`` of CIFAR-10 (JPEG q75, ``/work/shared/data/cifar10``),
decoded once; for sizes above 32 px they are upscaled (bicubic) to ``8/7`` of the output
size first (so the crop resizes down, as from ImageNet's 256 px images). The image-folder
rows write them as JPEG files (quality 90) to a temporary folder.

Timing: one call = one epoch over the images with a fresh iterator (both sides' workers
stay up between calls); the sides alternate call by call after one warm-up epoch each;
medians of ``--repeats`` calls and the load average are printed.

    PYTHONPATH=. python benchmarks/augment_vs_torchvision.py --sizes 32 96 224 --blur both
    PYTHONPATH=. python benchmarks/augment_vs_torchvision.py --source folder --sizes 32 224
    PYTHONPATH=. python benchmarks/augment_vs_torchvision.py --sizes 224 --workers 1 2
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import types

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.common import runtime_line, runtime_record  # noqa: E402

CIFAR_NPZ = "/work/shared/data/cifar10/cifar10_jpeg.npz"
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)


def import_torchvision():
    """torchvision's transforms and datasets without its detection ops (which fail to register
    with this torch build): an empty ``torchvision._meta_registrations`` goes first."""
    sys.modules.setdefault("torchvision._meta_registrations",
                           types.ModuleType("torchvision._meta_registrations"))
    import torchvision

    return torchvision


def load_images(npz_path, count, size):
    """``count`` CIFAR-10 train images (uint8 [N, s, s, 3]) and labels; s = 32, or 8/7 of
    ``size`` (bicubic upscale) above 32 px."""
    from PIL import Image

    data = np.load(npz_path)
    blob, offsets, labels = data["train_jpeg"], data["train_offsets"], data["train_labels"]
    side = 32 if size <= 32 else int(round(size * 8 / 7))
    images = np.empty([count, side, side, 3], np.uint8)
    for i in range(count):
        image = Image.open(io.BytesIO(blob[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB")
        if side != 32:
            image = image.resize((side, side), Image.BICUBIC)
        images[i] = np.asarray(image)
    return images, labels[:count].astype(np.int64)


def write_folder(images, labels, root):
    from PIL import Image

    for i, (image, label) in enumerate(zip(images, labels)):
        folder = os.path.join(root, f"class{int(label)}")
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(image).save(os.path.join(folder, f"{i:05d}.jpg"), quality=90)


def blur_kernel(size):
    """SimCLR's kernel: 10% of the size, made odd (as kerascon rounds it)."""
    return 2 * ((size // 10) // 2) + 1


# ------------------------------------------------------------------ torchvision side
def torch_side(images, labels, folder, size, blur, workers, batch):
    import torch
    from PIL import Image

    torchvision = import_torchvision()
    transforms = torchvision.transforms
    steps = [
        transforms.RandomResizedCrop(size=size, scale=(0.2, 1.0)),
        transforms.RandomHorizontalFlip(),
        transforms.RandomApply([transforms.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        transforms.RandomGrayscale(p=0.2),
    ]
    if blur:
        steps.append(transforms.RandomApply(
            [transforms.GaussianBlur(kernel_size=blur_kernel(size), sigma=(0.1, 2.0))], p=0.5))
    steps += [transforms.ToTensor(), transforms.Normalize(mean=CIFAR_MEAN, std=CIFAR_STD)]
    transform = transforms.Compose(steps)

    class TwoCropTransform:
        """The authors' util.TwoCropTransform."""

        def __init__(self, transform):
            self.transform = transform

        def __call__(self, x):
            return [self.transform(x), self.transform(x)]

    class ArrayImages(torch.utils.data.Dataset):
        """torchvision's CIFAR10 __getitem__: a PIL image from the array, then the transform."""

        def __init__(self, images, labels, transform):
            self.images, self.labels, self.transform = images, labels, transform

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])

    if folder is None:
        dataset = ArrayImages(images, labels, TwoCropTransform(transform))
    else:
        dataset = torchvision.datasets.ImageFolder(folder, transform=TwoCropTransform(transform))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True,
                                         num_workers=workers, persistent_workers=workers > 0,
                                         drop_last=True)

    def epoch():
        n = 0
        for views, target in loader:
            n += views[0].shape[0] + views[1].shape[0]
        return n

    return epoch


# ------------------------------------------------------------------ kerascon side
def kerascon_side(images, labels, folder, size, blur, workers, batch):
    import tensorflow as tf

    from kerascon.augment import make_augmentation
    from kerascon.data import from_arrays, from_image_folder, multiview_dataset

    source = from_arrays(images, labels) if folder is None else from_image_folder(folder)
    augment = make_augmentation("simclr", size, crop_scale=(0.2, 1.0), blur=blur)
    ds = multiview_dataset(source, views=2, batch_size=batch, augment=augment, image_size=size,
                           seed=None)
    options = tf.data.Options()
    options.threading.private_threadpool_size = workers
    options.threading.max_intra_op_parallelism = 1
    ds = ds.with_options(options)

    def epoch():
        n = 0
        for views, _ in ds:
            n += int(views.shape[0]) * int(views.shape[1])
        return n

    return epoch


def time_alternately(epochs, repeats, pause):
    for epoch in epochs:
        epoch()
    times = [[] for _ in epochs]
    counts = [0 for _ in epochs]
    for _ in range(repeats):
        for i, epoch in enumerate(epochs):
            time.sleep(pause)
            start = time.perf_counter()
            counts[i] = epoch()
            times[i].append(time.perf_counter() - start)
    return times, counts


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def default_count(size):
    return {32: 4096, 96: 1024}.get(size, 512)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 96, 224])
    p.add_argument("--blur", choices=("off", "on", "both"), default="both")
    p.add_argument("--source", choices=("memory", "folder"), default="memory")
    p.add_argument("--workers", type=int, nargs="+", default=[2])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--images", type=int, default=0, help="images per epoch (0: by size)")
    p.add_argument("--repeats", type=int, default=5, help="timed epochs per side")
    p.add_argument("--pause", type=float, default=0.3)
    p.add_argument("--data", default=CIFAR_NPZ)
    args = p.parse_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(max(args.workers))
    tf.config.threading.set_inter_op_parallelism_threads(max(args.workers))
    blurs = {"off": [False], "on": [True], "both": [False, True]}[args.blur]
    print(f"two-view SimCLR augmentation, source {args.source}, batch {args.batch}, "
          f"{args.repeats} alternating epochs per side; load average {load_average()}")
    print(runtime_line(runtime_record()))
    print("| size | blur | workers | images | torchvision img/s | kerascon img/s | ratio | load avg |")
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    for size in args.sizes:
        images, labels = load_images(args.data, args.images or default_count(size), size)
        with tempfile.TemporaryDirectory() as tmp:
            folder = None
            if args.source == "folder":
                folder = tmp
                write_folder(images, labels, folder)
            for blur in blurs:
                for workers in args.workers:
                    sides = [torch_side(images, labels, folder, size, blur, workers, args.batch),
                             kerascon_side(images, labels, folder, size, blur, workers, args.batch)]
                    times, counts = time_alternately(sides, args.repeats, args.pause)
                    rates = [c / statistics.median(t) for c, t in zip(counts, times)]
                    print(f"| {size} | {'yes' if blur else 'no'} | {workers} | {counts[1]} | "
                          f"{rates[0]:,.0f} | {rates[1]:,.0f} | {rates[1] / rates[0]:.2f}x | "
                          f"{load_average()} |", flush=True)
                    del sides


if __name__ == "__main__":
    main()
