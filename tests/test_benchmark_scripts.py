"""The CIFAR-10 benchmark scripts end to end on a tiny CIFAR-format file (no shared data)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import cifar10_reproduction, cifar10_weights_robustness, stability_sweep
from benchmarks.cifar10_data import load_cifar10

pytestmark = pytest.mark.slow


def write_tiny_cifar(path, train=48, test=24, seed=0):
    """A file laid out like cifar10_jpeg.npz: class = brightness band, JPEG bytes."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, count in (("train", train), ("test", test)):
        labels = np.arange(count) % 10
        images = (rng.integers(0, 40, (count, 32, 32, 3)) + labels[:, None, None, None] * 20)
        blobs = [tf.io.encode_jpeg(image.astype("uint8"), quality=90).numpy() for image in images]
        arrays[f"{split}_jpeg"] = np.frombuffer(b"".join(blobs), np.uint8)
        arrays[f"{split}_offsets"] = np.cumsum([0] + [len(b) for b in blobs]).astype("int64")
        arrays[f"{split}_labels"] = labels.astype("int64")
    arrays["class_names"] = np.array([f"c{i}" for i in range(10)])
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def tiny_cifar(tmp_path_factory):
    return str(write_tiny_cifar(tmp_path_factory.mktemp("cifar") / "tiny.npz"))


TINY = ["--arch", "resnet18", "--width-multiplier", "0.125", "--epochs", "1",
        "--linear-epochs", "1", "--batch-size", "16", "--knn-k", "5"]


def test_loader_decodes_the_file_layout(tiny_cifar):
    x_train, y_train, x_test, y_test, names = load_cifar10(tiny_cifar, train_examples=10)
    assert x_train.shape == (10, 32, 32, 3) and x_train.dtype == np.uint8
    assert x_test.shape == (24, 32, 32, 3) and len(names) == 10
    np.testing.assert_array_equal(y_train, np.arange(10))
    assert abs(float(x_train[9].mean()) - (9 * 20 + 19.5)) < 6  # JPEG keeps the brightness


def test_reproduction_then_robustness_of_saved_weights(tiny_cifar, tmp_path):
    out = tmp_path / "run"
    cifar10_reproduction.main(TINY + ["--data", tiny_cifar, "--methods", "ce,supcon",
                                      "--corruptions", "--corruption-examples", "4",
                                      "--severities", "1", "--save-weights", "--out", str(out)])
    summary = json.loads((out / "results.json").read_text())
    for method in ("ce", "supcon"):
        r = summary["results"][method]
        assert 0.0 <= r["top1"] <= 1.0 and 0.0 <= r["knn_top1"] <= 1.0 and 0.0 <= r["ece"] <= 1
        assert set(r["corruptions"]["accuracy"]) == set(cifar10_reproduction_corruptions())
        assert r["weight_files"] and all((out / f).is_file() for f in r["weight_files"])
    assert summary["results"]["ce"]["mce"] == pytest.approx(100.0)
    assert summary["results"]["supcon"]["linear"]["epochs_run"] == 1
    report = tmp_path / "robustness.json"
    cifar10_weights_robustness.main(["--results", str(out), "--data", tiny_cifar,
                                     "--corruption-examples", "4", "--severities", "1",
                                     "--batch-size", "8", "--out", str(report)])
    reloaded = json.loads(report.read_text())["results"]
    for method in ("ce", "supcon"):  # float16 weights reproduce the trained model
        assert abs(reloaded[method]["top1_reloaded_cpu"] - summary["results"][method]["top1"]) \
            <= 1 / 24 + 1e-9


def cifar10_reproduction_corruptions():
    from kerascon.evaluation.corruptions import CORRUPTIONS

    return CORRUPTIONS


def test_stability_sweep_writes_spread_and_plot(tiny_cifar, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sweep"
    stability_sweep.main(TINY + ["--data", tiny_cifar, "--out", str(out), "--methods", "ce",
                                 "--lr-multipliers", "0.1,1", "--policies", "weak,simclr"])
    sweep = json.loads((out / "sweep.json").read_text())
    settings = [(r["method"], r["factor"], r["setting"]) for r in sweep["rows"]]
    assert settings == [("ce", "learning rate", "x0.1"), ("ce", "learning rate", "x1"),
                        ("ce", "augmentation", "weak"), ("ce", "augmentation", "simclr")]
    assert sweep["rows"][1]["top1"] == sweep["rows"][3]["top1"]  # x1 simclr trained once
    lrs = [r["learning_rate"] for r in sweep["rows"]]
    assert lrs[0] == pytest.approx(0.1 * lrs[1])
    for key, spread in sweep["spread"].items():
        assert spread["spread"] == pytest.approx(spread["max"] - spread["min"])
    assert (out / "stability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------ machine record (benchmarks.common)
SAMPLE_CPUINFO = """\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse sse2 ssse3 sse4_1 avx fma avx2 avx512f avx512dq avx512_bf16 avx_vnni \
amx_bf16 amx_tile amx_int8 aes
bugs\t\t: spectre_v1

processor\t: 1
flags\t\t: fpu sse2
"""


def test_cpu_flags_and_vector_extensions_from_cpuinfo_text():
    from benchmarks.common import cpu_flags, vector_extensions

    flags = cpu_flags(SAMPLE_CPUINFO)  # the first processor's line
    assert {"fpu", "sse4_1", "avx512f", "amx_int8", "aes"} <= flags and "spectre_v1" not in flags
    assert vector_extensions(flags) == ["amx_bf16", "amx_int8", "amx_tile", "avx", "avx2",
                                        "avx512_bf16", "avx512dq", "avx512f", "avx_vnni", "fma"]
    assert vector_extensions(cpu_flags("processor : 0\nflags : fpu sse2 sse4_2\n")) == []
    assert cpu_flags("Features\t: fp asimd sve\n") == {"fp", "asimd", "sve"}  # Arm
    assert cpu_flags("") == set()


def test_runtime_record_names_threads_onednn_and_load(monkeypatch):
    from benchmarks.common import runtime_line, runtime_record

    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    record = runtime_record()  # TensorFlow is imported by this module: its pools are read
    assert record["TF_ENABLE_ONEDNN_OPTS"] == "0" and record["ONEDNN_MAX_CPU_ISA"] is None
    assert record["tf_intra_op_threads"] == tf.config.threading.get_intra_op_parallelism_threads()
    assert record["tf_inter_op_threads"] == tf.config.threading.get_inter_op_parallelism_threads()
    assert isinstance(record["cpu_vector_extensions"], list)
    line = runtime_line(record)
    assert "TF_ENABLE_ONEDNN_OPTS=0" in line and "ONEDNN_MAX_CPU_ISA=unset" in line
    assert f"TF threads intra {record['tf_intra_op_threads']} / inter" in line
    assert f"load average {record['load_average']}" in line and "\n" not in line


# ------------------------------------------------------------ finetune_transfer (no training)
def test_kshot_draw_is_exact_per_class_and_seeded():
    from benchmarks.finetune_transfer import kshot_indices

    labels = np.repeat(np.arange(5), [30, 12, 20, 7, 15])
    draws = {seed: kshot_indices(labels, 7, seed) for seed in (0, 1)}
    for index in draws.values():
        assert len(set(index.tolist())) == 35
        np.testing.assert_array_equal(np.bincount(labels[index], minlength=5), [7] * 5)
    assert set(draws[0].tolist()) != set(draws[1].tolist())  # another seed, other images
    np.testing.assert_array_equal(kshot_indices(labels, 7, 0), draws[0])  # same seed, same
    assert set(kshot_indices(labels, 3, 0).tolist()) <= set(draws[0].tolist())  # nested in k


def test_k_larger_than_a_class_is_one_line_naming_k_and_the_count():
    from benchmarks.finetune_transfer import KShotError, kshot_indices

    labels = np.repeat(np.arange(3), [10, 4, 10])
    with pytest.raises(KShotError) as error:
        kshot_indices(labels, 5, 0, class_names=["cat", "dog", "frog"])
    message = str(error.value)
    assert message == "k=5 is more than the 4 training images of class 'dog'; give --ks of at most 4"
    with pytest.raises(KShotError, match="k=0"):
        kshot_indices(labels, 0, 0)


def test_label_flipping_flips_exactly_the_share_to_another_class():
    from benchmarks.finetune_transfer import flip_labels

    labels = np.repeat(np.arange(5), 10)
    noisy, flipped = flip_labels(labels, 0.2, 5, seed=3)
    changed = np.flatnonzero(noisy != labels)
    assert len(flipped) == 10 and changed.tolist() == flipped.tolist()  # every flip changes
    assert noisy.min() >= 0 and noisy.max() <= 4
    np.testing.assert_array_equal(flip_labels(labels, 0.2, 5, seed=3)[0], noisy)
    assert flip_labels(labels, 0.2, 5, seed=4)[1].tolist() != flipped.tolist()
    assert len(flip_labels(labels[:7], 0.2, 5, seed=0)[1]) == 1  # round(1.4)
    with pytest.raises(ValueError, match="at least 2 classes"):
        flip_labels(labels, 0.2, 1, seed=0)


def test_validation_share_keeps_every_class_on_both_sides():
    from benchmarks.finetune_transfer import split_validation

    labels = np.repeat(np.arange(4), [10, 2, 5, 3])
    train, val = split_validation(labels, 0.2, seed=0)
    assert sorted(train.tolist() + val.tolist()) == list(range(len(labels)))
    np.testing.assert_array_equal(np.bincount(labels[val]), [2, 1, 1, 1])
    assert set(labels[train].tolist()) == {0, 1, 2, 3}


def test_paired_t_interval_against_a_hand_computed_value():
    from benchmarks.common import mean_std, paired_t_interval, t_quantile_975

    # differences 1..5: mean 3, sd sqrt(2.5), t(0.975, 4) = 2.776445;
    # half width 2.776445 * sqrt(2.5) / sqrt(5) = 1.963243
    mean, low, high, n = paired_t_interval([2, 4, 6, 8, 10], [1, 2, 3, 4, 5])
    assert (mean, n) == (3.0, 5)
    assert low == pytest.approx(3 - 1.963243, abs=1e-5)
    assert high == pytest.approx(3 + 1.963243, abs=1e-5)
    assert paired_t_interval([0.5], [0.25]) == (0.25, None, None, 1)
    assert t_quantile_975(35) == pytest.approx(2.030108, abs=1e-4)  # between the table's rows
    assert t_quantile_975(500) == pytest.approx(1.964720, abs=1e-4)
    assert mean_std([1, 2, 3, 4, 5]) == pytest.approx((3.0, 2.5 ** 0.5))


def test_summary_table_pairs_arms_by_seed():
    from benchmarks.finetune_transfer import summarise

    results = [{"pretrain": "supcon", "noise": "clean", "k": 10, "seed": s, "arm": arm,
                "top1": top1, "ece": 0.1}
               for s, (ce, joint, linear) in enumerate([(0.50, 0.52, 0.40), (0.60, 0.63, 0.41)])
               for arm, top1 in (("ce", ce), ("joint", joint), ("linear", linear))]
    table, numbers = summarise(results, ["ce", "joint", "linear"])
    assert numbers[0]["joint_minus_ce"]["mean"] == pytest.approx(0.025)
    assert numbers[0]["ce_minus_linear"]["mean"] == pytest.approx(0.145)
    # joint - ce: differences 0.02, 0.03: sd 0.00707, t(0.975, 1) = 12.706205 -> ±0.0635
    assert numbers[0]["joint_minus_ce"]["high"] == pytest.approx(0.025 + 0.063531, abs=1e-5)
    assert "+2.5 [-3.9, +8.9]" in table and "55.0 ± 7.1" in table


def test_transfer_benchmark_refuses_a_large_k_before_training(tmp_path, capsys):
    from benchmarks import finetune_transfer

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 6)
    np.savez(tmp_path / "tiny.npz", x_train=rng.integers(0, 255, (60, 32, 32, 3), dtype=np.uint8),
             y_train=labels, x_test=rng.integers(0, 255, (20, 32, 32, 3), dtype=np.uint8),
             y_test=np.repeat(np.arange(10), 2), class_names=[f"c{i}" for i in range(10)])
    work = tmp_path / "work"
    with pytest.raises(SystemExit) as stop:
        finetune_transfer.main(["--data", str(tmp_path / "tiny.npz"), "--work", str(work),
                                "--ks", "2,7", "--quick"])
    assert str(stop.value) == ("error: k=7 is more than the 6 training images of class 'c5'; "
                               "give --ks of at most 6")
    assert not (work / "runs").exists()
    with pytest.raises(SystemExit):  # argparse: --work inside the repository
        finetune_transfer.main(["--data", str(tmp_path / "tiny.npz"), "--work", "benchmarks/x"])
    assert "lies inside the repository" in capsys.readouterr().err


def test_transfer_summary_only_reads_the_result_files_and_refuses_an_empty_work(tmp_path):
    from benchmarks import finetune_transfer

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tiny.npz", x_train=rng.integers(0, 255, (60, 32, 32, 3), dtype=np.uint8),
             y_train=np.repeat(np.arange(10), 6),
             x_test=rng.integers(0, 255, (20, 32, 32, 3), dtype=np.uint8),
             y_test=np.repeat(np.arange(10), 2), class_names=[f"c{i}" for i in range(10)])
    work = tmp_path / "work"
    argv = ["--data", str(tmp_path / "tiny.npz"), "--work", str(work), "--ks", "2",
            "--seeds", "0,1", "--pretrains", "supcon", "--arms", "ce,linear", "--noise", "0",
            "--summary-only"]
    with pytest.raises(SystemExit) as stop:
        finetune_transfer.main(argv)
    assert "no results in" in str(stop.value)
    # one seed's two arms recorded (a stopped run): the table has that seed and its pair
    for arm, top1 in (("ce", 0.5), ("linear", 0.4)):
        path = work / "results" / "supcon" / f"k2_clean_s0_{arm}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"pretrain": "supcon", "arm": arm, "k": 2, "noise": "clean",
                                    "seed": 0, "top1": top1, "ece": 0.1, "seconds": 3.0}))
    finetune_transfer.main(argv)
    summary = json.loads((work / "results.json").read_text())
    assert [r["arm"] for r in summary["runs"]] == ["ce", "linear"]
    assert summary["summary"][0]["ce_minus_linear"]["mean"] == pytest.approx(0.1)
    assert "6 s of pretraining and arms" in (work / "results.md").read_text()
    assert not (work / "runs").exists()


@pytest.mark.parametrize("op, family", [
    ("_MklNativeConv2DBackpropFilter", "conv backward"), ("aten::convolution_backward", "conv backward"),
    ("_MklNativeConv2D", "conv forward"), ("aten::mkldnn_convolution", "conv forward"),
    ("_MklNativeFusedBatchNormGradV3", "batch norm"), ("aten::native_batch_norm", "batch norm"),
    ("MatMul", "matmul"), ("aten::addmm", "matmul"), ("ReluGrad", "element-wise / reductions"),
    ("AssignAddVariableOp", "optimizer update"), ("IteratorGetNext", "other")])
def test_profile_op_families_name_both_frameworks_alike(op, family):
    from benchmarks.train_step_profile import family as family_of

    assert family_of(op) == family
