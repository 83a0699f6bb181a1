"""The sizes people train at: batch 128-512, views of 32-224 px, hundreds to thousands of images.

Every other test runs at batch 8-32 and 8-32 px, where the batched augmentation never
splits a batch into chunks; at these sizes it does, and ``kerascon train`` once refused
every data set ("fewer examples than one batch") because the chunked pipeline's length
was unknown. Each case trains one epoch of exactly 2 steps (the example counts leave a
partial batch, which is dropped) on a small ResNet-18 (``encoder_options``), and checks the steps
really trained (the optimizer's step count in the stage's checkpoint, or after ``fit``)
and, for evaluations, the examples evaluated.

The cases form a covering design, not the full product (see ``CLI_CASES`` and
``API_CASES``): every layout (arrays, ``.npz`` with and without ``<split>_idx`` arrays,
train/test folder, plain class folder, TFDS), every stage (contrastive, linear, joint,
ce), the momentum queue, batch 128, 256 and 512, views of 32, 64, 96 and 224 px, float32
and mixed precision (through the Python API: the command line has no precision option).
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import invoke_cli, one_error_line
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from realistic_data import class_images, trained_steps, write_class_folder, write_npz

pytestmark = [pytest.mark.realistic, pytest.mark.slow]



def encoder_options(size: int) -> dict:
    """A small ResNet-18 for ``size`` px: 1/32 width at 32 px; from 64 px 1/4 width (16 stem
    channels) with the ImageNet stem (a stride-4 start), as such images are trained.

    TensorFlow 2.21's oneDNN CPU kernels crash (segmentation fault) when a network of at most
    8 channels trains on 64 px or larger images on this machine kind (AVX-512 AMD EPYC; 16
    channels and 32 px never crashed): README, "A crash on CPU".
    """
    if size >= 64:
        return {"width_multiplier": 0.25, "stem": "imagenet"}
    return {"width_multiplier": 0.03125, "stem": "cifar"}


def encoder_flags(size: int) -> list:
    options = encoder_options(size)
    return ["--arch", "resnet18", "--width-multiplier", options["width_multiplier"],
            "--stem", options["stem"]]

# Training examples per batch size: 2 whole batches and a partial one that is dropped.
TRAIN = {128: 300, 256: 600, 512: 1100}
# Layouts without splits hold out 10% of every class: these totals train on 2 batches too.
TOTAL_HELD_OUT = {128: 340, 256: 660, 512: 1220}
TEST = 600  # evaluated examples of the layouts with a test split


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("realistic")


_WRITTEN = {}


def layout(root, name: str, batch: int) -> str:
    """The data string of ``name`` sized for ``batch`` (written once per module)."""
    key = (name, batch)
    if key in _WRITTEN:
        return _WRITTEN[key]
    where = root / f"{name}_{batch}"
    if name == "npz_splits":
        value = write_npz(f"{where}.npz", TRAIN[batch] + TEST,
                          splits={"train": TRAIN[batch], "test": TEST})
    elif name == "npz":
        value = write_npz(f"{where}.npz", TOTAL_HELD_OUT[batch])
    elif name == "folder":
        write_class_folder(where / "train", TRAIN[batch])
        write_class_folder(where / "test", TEST, seed=1)
        value = where
    elif name == "flat":
        write_class_folder(where, TOTAL_HELD_OUT[batch])
        value = where
    else:  # TFDS: tfds.testing.mock_data makes the examples (see tfds_mock)
        value = "cifar10"
    _WRITTEN[key] = str(value)
    return str(value)


@pytest.fixture
def tfds_mock(monkeypatch):
    """cifar10 from ``tfds.testing.mock_data``: ``TRAIN[batch]`` examples in every split."""
    import contextlib

    import tensorflow_datasets as tfds

    from kerascon.data import dispatch

    # mock_data makes the download a no-op; the probe that fails fast offline must let it run.
    monkeypatch.setattr(dispatch, "_online", lambda *args, **kwargs: True)

    def mock(batch):
        return tfds.testing.mock_data(num_examples=TRAIN[batch]) if batch else contextlib.nullcontext()

    return mock


def cli_json(*args) -> dict:
    result = invoke_cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def train_examples(run, stage: str, data_layout: str, batch: int) -> int:
    """Examples the stage trained on: the recorded hold-out's count, else the split's size."""
    if data_layout in ("npz", "flat"):
        return json.loads((run / "stages" / stage / "holdout.json").read_text())["train_examples"]
    return TRAIN[batch]


def assert_two_steps(run, stage, data_layout, batch, report):
    examples = train_examples(run, stage, data_layout, batch)
    assert examples // batch == 2 and examples % batch > 0  # whole batches and a dropped rest
    assert trained_steps(run / "stages" / stage / "checkpoint.keras") == examples // batch
    assert report["epochs"] == 1


# (layout, stage, image size, batch, extra options, what follows: linear and/or eval)
CLI_CASES = [
    # the command: a .npz with train/test arrays, 32 px, batch 256
    ("npz_splits", "contrastive", 32, 256, [], ("linear", "eval")),
    ("folder", "contrastive", 64, 512, [], ()),
    ("folder", "ce", 96, 128, [], ("eval",)),
    ("flat", "joint", 32, 128, [], ("eval",)),
    ("flat", "contrastive", 32, 256, ["--momentum-encoder", "0.99", "--queue-size", "1000"], ()),
    ("npz", "ce", 64, 512, [], ("eval",)),
    ("npz", "joint", 96, 256, [], ()),
    ("tfds", "contrastive", 32, 512, [], ()),
    ("tfds", "ce", 224, 128, [], ("eval",)),
]


@pytest.mark.parametrize("data_layout,stage,size,batch,extra,then", CLI_CASES,
                         ids=[f"{c[0]}-{c[1]}{'-queue' if '--queue-size' in c[4] else ''}-{c[2]}px-b{c[3]}"
                              for c in CLI_CASES])
def test_cli_trains_whole_batches(data_root, tmp_path, tfds_mock, data_layout, stage, size, batch,
                                  extra, then):
    data = layout(data_root, data_layout, batch)
    source = ["--dataset", data, "--data-dir", tmp_path / "tfds"] if data_layout == "tfds" \
        else ["--data", data]
    run = tmp_path / "run"
    with tfds_mock(batch if data_layout == "tfds" else None):
        report = cli_json("train", "--stage", stage, *source, *encoder_flags(size), "--image-size", size,
                          "--batch-size", batch, "--epochs", 1, *extra, "--output", run)
        assert_two_steps(run, stage, data_layout, batch, report)
        if data_layout in ("npz", "flat"):  # evaluated on the recorded hold-out
            evaluated = TOTAL_HELD_OUT[batch] - train_examples(run, stage, data_layout, batch)
            assert report["held_out_examples"] == evaluated
        else:
            evaluated = TRAIN[batch] if data_layout == "tfds" else TEST
        if stage != "contrastive":  # the stage's own final evaluation
            assert 0.0 <= report["top1"] <= 1.0
        if "linear" in then:
            linear = cli_json("train", "--stage", "linear", "--run", run, "--epochs", 1)
            assert_two_steps(run, "linear", data_layout, batch, linear)
        if "eval" in then:
            frozen = ["--frozen"] if "linear" in then else []
            result = cli_json("eval", "--run", run, *frozen)
            assert result["examples"] == evaluated
            assert 0.0 <= result["top1"] <= 1.0


def test_fewer_examples_than_one_batch_is_one_line(data_root, tmp_path):
    data = layout(data_root, "npz_splits", 128)  # 300 training examples
    line = one_error_line(invoke_cli("train", "--data", data, *encoder_flags(32), "--batch-size", 512,
                                     "--output", tmp_path / "run"))
    assert line == (f"Error: dataset 'npz_splits_128:train' has fewer examples ({TRAIN[128]}) "
                    "than one batch of 512; lower --batch-size")
    assert not (tmp_path / "run").exists()


# (stage, image size, batch, precision, momentum queue)
# (bfloat16 is emulated on most CPUs, so it runs at 32 px)
API_CASES = [
    ("contrastive", 32, 512, "mixed_bfloat16", False),
    ("contrastive", 96, 256, "float32", False),
    ("joint", 64, 128, "mixed_float16", False),
    ("ce", 224, 128, "float32", False),
    ("contrastive", 32, 256, "mixed_bfloat16", True),
]


@pytest.mark.parametrize("stage,size,batch,policy,queue", API_CASES,
                         ids=[f"{c[0]}{'-queue' if c[4] else ''}-{c[1]}px-b{c[2]}-{c[3]}"
                              for c in API_CASES])
def test_notebook_api_fits_whole_batches(stage, size, batch, policy, queue):
    from kerascon.data import from_arrays, multiview_dataset, single_view_dataset
    from kerascon.model import SupConModel

    keras.mixed_precision.set_global_policy(policy)
    images, labels = class_images(TRAIN[batch], seed=2)
    source = from_arrays(images, labels)
    if stage == "ce":
        data = single_view_dataset(source, batch_size=batch, image_size=size, augment="flip_crop",
                                   shuffle=True, seed=0, drop_remainder=True)
        shape = (batch, size, size, 3)
    else:
        data = multiview_dataset(source, views=2, batch_size=batch, image_size=size, seed=0)
        shape = (batch, 2, size, size, 3)
    assert int(data.cardinality()) == 2 and tuple(data.element_spec[0].shape) == shape
    options = {"momentum_encoder": 0.99, "queue_size": 1000} if queue else {}
    model = SupConModel.from_architecture("resnet18", num_classes=10, stage=stage,
                                          **encoder_options(size), **options)
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    history = model.fit(data, epochs=1, verbose=0, shuffle=False)
    assert int(model.optimizer.iterations) == 2
    assert np.isfinite(history.history["loss"][-1])
    assert model.encoder.compute_dtype == policy.split("_")[-1]


# ----------------------------------------------------------------------------- property

PIPELINE = settings(max_examples=10, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PIPELINE
@given(examples=st.integers(1, 400), batch=st.integers(1, 160),
       size=st.sampled_from([8, 16, 28, 32, 64]), views=st.integers(1, 3),
       drop_remainder=st.booleans())
@example(examples=300, batch=128, size=64, views=2, drop_remainder=True)   # chunks of 21
@example(examples=203, batch=100, size=32, views=3, drop_remainder=False)  # chunks of 56
def test_multiview_dataset_yields_what_its_cardinality_says(examples, batch, size, views,
                                                            drop_remainder):
    from kerascon.data import batches_per_epoch, from_arrays, multiview_dataset

    if drop_remainder and examples < batch:
        batch = examples  # fewer examples than a batch is refused (tested in test_data.py)
    images, labels = class_images(examples, size=8, seed=examples)
    data = multiview_dataset(from_arrays(images, labels), views=views, batch_size=batch,
                             image_size=size, seed=1, drop_remainder=drop_remainder)
    expected = batches_per_epoch(examples, batch, drop_remainder)
    assert int(data.cardinality()) == expected
    sizes = [int(labels.shape[0]) for views_batch, labels in data
             if views_batch.shape[1:] == (views, size, size, 3)]
    assert len(sizes) == expected
    assert sizes[:examples // batch] == [batch] * (examples // batch)
    assert sum(sizes) == (examples // batch) * batch if drop_remainder else sum(sizes) == examples


def test_rebatched_pipeline_distributes_over_replicas(two_replica_strategy):
    """Two replicas split each global batch; the distributed epoch has the same steps."""
    from kerascon.data import from_arrays, multiview_dataset

    images, labels = class_images(300, seed=3)
    data = multiview_dataset(from_arrays(images, labels), batch_size=128, image_size=64, seed=0)
    distributed = two_replica_strategy.experimental_distribute_dataset(data)
    per_step = [sum(int(t.shape[0]) for t in two_replica_strategy.experimental_local_results(lab))
                for _, lab in distributed]
    assert per_step == [128, 128]
    assert tf.data.experimental.AutoShardPolicy.DATA == \
        data.options().experimental_distribute.auto_shard_policy
