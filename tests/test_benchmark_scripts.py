"""The CIFAR-10 benchmark scripts end to end on a tiny CIFAR-format file (no shared data)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import cifar10_reproduction, cifar10_weights_robustness, stability_sweep
from benchmarks.cifar10_data import load_cifar10


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
