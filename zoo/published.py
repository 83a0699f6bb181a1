"""kerascon's own pretrained encoders, shipped inside the package with their model cards.

Each entry's files live in ``kerascon/zoo/weights/<name>/``: ``encoder.npz`` (the
encoder's weights as float16; :mod:`kerascon.zoo.float16_weights` casts them back to
float32), the exact recipe as training configurations (``contrastive.yaml`` then
``linear.yaml``: :class:`kerascon.runs.TrainConfig` keys) and ``README.md``, the model
card. The sha256 and size below were computed from the shipped file; the metrics were
measured on the test split by :func:`kerascon.runs.zoo_entries.verify_entry` (linear
top-1 after the recipe's linear stage, kNN top-1 with k=200, temperature 0.1). Entries
load offline; their sha256 is checked on every load (:func:`kerascon.zoo.shipped_file`).

Example:
    >>> from kerascon.zoo.pretrained import get_pretrained
    >>> get_pretrained("resnet18.supcon_digits").recipe.dataset
    'embedded:digits'
"""

from __future__ import annotations

from kerascon.zoo.pretrained import (
    KERASCON_FLOAT16,
    PACKAGE_SOURCE,
    PretrainedSpec,
    ReportedMetric,
    TrainingRecipe,
    register_pretrained,
)

__all__ = ["PUBLISHED"]

_MEASURED = "re-measured by kerascon.runs.zoo_entries.verify_entry, 2026-12-02"
_DIGITS = "resnet18.supcon_digits"
_CIFAR10 = "resnet20.supcon_cifar10"
_CIFAR10_E40 = "resnet20.supcon_cifar10_e40"
_BUILT = "measured by kerascon.runs.zoo_entries (float32 encoder, its own linear stage), 2026-12-05"


def _shipped_entry(name, *, sha256, size, recipe, metrics_on, citation, linear_top1, knn_top1,
                   **spec_fields) -> PretrainedSpec:
    """An entry shipped in ``weights/<name>/``: its float16 file, its recipe's two
    configurations (``contrastive.yaml``, ``linear.yaml``) and the card's two metrics."""
    metrics = tuple(ReportedMetric(name=metric, value=value, dataset=metrics_on, citation=citation)
                    for metric, value in (("linear top-1 (%)", linear_top1),
                                          ("kNN top-1 (%)", knn_top1)))
    return PretrainedSpec(
        name=name, source=f"{PACKAGE_SOURCE}weights/{name}/encoder.npz", sha256=sha256,
        size=size, format=KERASCON_FLOAT16,
        recipe=TrainingRecipe(**recipe, config_files=(f"weights/{name}/contrastive.yaml",
                                                      f"weights/{name}/linear.yaml")),
        metrics=metrics, **spec_fields)


#: What both CIFAR-10 entries share: the network, its input, its head and the data.
_RESNET20_CIFAR10 = dict(
    input_size=(32, 32), mean=(0.4914, 0.4822, 0.4465), std=(0.2023, 0.1994, 0.2010),
    stem="cifar", width_multiplier=1.0, feature_dim=64,
    projection_dim=128, projection_hidden_dim=512, head_type="mlp",
    metrics_on="CIFAR-10 test (10,000 images, JPEG q75)", citation=_BUILT,
    license="Apache-2.0 (weights trained by kerascon on CIFAR-10)")
_CIFAR10_RECIPE = dict(
    dataset="cifar10", batch_size=256, temperature=0.1, augmentation="simclr", method="SupCon",
    dataset_license="CIFAR-10 (Krizhevsky 2009; no licence stated by its authors)")

#: kerascon's own entries, in the order they are registered.
PUBLISHED = (
    _shipped_entry(
        _DIGITS,
        sha256="3c4ec9530466462d245bad8cbd5e522ab993ed92a1283f4ba153aecc14d80798",
        size=1433834,
        input_size=(16, 16),
        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
        stem="cifar", width_multiplier=0.25, feature_dim=128,
        projection_dim=128, projection_hidden_dim=256, head_type="mlp",
        recipe=dict(
            dataset="embedded:digits", epochs=10, batch_size=128, temperature=0.1,
            augmentation="simclr", method="SupCon",
            hardware="2-core shared CPU, no GPU; 66 s for both stages and the evaluation",
            dataset_license="CC BY 4.0 (UCI Optical Recognition of Handwritten Digits)",
            notes="SupCon 10 epochs (SGD lr 0.5, batch 128, 16x16 images), then a linear "
                  "classifier 30 epochs on the frozen encoder; 1,438 train / 359 test images",
        ),
        metrics_on="embedded:digits test (359 images)", citation=_MEASURED,
        linear_top1=96.10, knn_top1=83.84,
        license="Apache-2.0 (weights trained by kerascon on CC BY 4.0 data)",
        description="ResNet-18 (width 0.25, CIFAR stem) trained with SupCon on the embedded "
                    "8x8 digits at 16x16; proves the shipped-weights path",
    ),
    _shipped_entry(
        _CIFAR10,
        sha256="ec9bf06668428e2613312dae3cd3801590543041feb0af472bc5d7dfc12bc71b",
        size=567912,
        recipe=dict(
            _CIFAR10_RECIPE, epochs=20,
            hardware="2-core shared CPU (Intel Xeon, AVX-512), no GPU; 91 min contrastive "
                     "(20 epochs), 14 min linear stage",
            notes="SupCon 20 epochs (SGD lr 0.3, 2 warmup epochs, cosine, batch 256 x 2 views, "
                  "32x32), then a linear classifier 10 epochs on the frozen encoder; built from "
                  "CIFAR-10, JPEG q75 re-encoding (50,000 train / 10,000 test)",
        ),
        linear_top1=78.86, knn_top1=78.14,
        description="CIFAR ResNet-20 (0.27 M parameters) trained with SupCon on CIFAR-10 for "
                    "20 epochs on a 2-core CPU; below the paper's and keras.io's figures",
        **_RESNET20_CIFAR10,
    ),
    _shipped_entry(
        _CIFAR10_E40,
        sha256="6d791b0b4b48fec37401f90bf652d61f1ce8e908872a0fc0f4bc18e31833aa3f",
        size=567912,
        recipe=dict(
            _CIFAR10_RECIPE, epochs=40,
            hardware="2-core shared CPU (Intel Xeon, AVX-512), no GPU; 65 min for the second "
                     "contrastive leg (20 epochs) after the 91 min of resnet20.supcon_cifar10, "
                     "5 min linear stage",
            notes="SupCon 40 epochs in two legs: resnet20.supcon_cifar10 (20 epochs), then 20 "
                  "more from its float16 encoder with a fresh head (SGD lr 0.15, 1 warmup epoch, "
                  "cosine, batch 256 x 2 views, 32x32); then a linear classifier 10 epochs on "
                  "the frozen encoder; built from CIFAR-10, JPEG q75 re-encoding",
        ),
        linear_top1=82.51, knn_top1=82.35,
        description="CIFAR ResNet-20 (0.27 M parameters) trained with SupCon on CIFAR-10 for "
                    "40 epochs on a 2-core CPU; above the keras.io example's 81.6%",
        **_RESNET20_CIFAR10,
    ),
)

for _spec in PUBLISHED:
    register_pretrained(_spec)
del _spec
