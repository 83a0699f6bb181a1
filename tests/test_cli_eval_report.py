"""`kerascon eval` with kNN, calibration and corruptions, and `kerascon report`, end to end.

Two tiny runs on the embedded digits at 16 px (a SupCon run with its linear classifier,
and a cross-entropy run) are trained once for the module; corruption evaluations are
restricted to two cheap corruptions, two severities and a few dozen images.
"""

import json
import shutil

import numpy as np
import pytest
from conftest import invoke_cli as invoke
from conftest import one_error_line

pytestmark = [pytest.mark.usefixtures("tiny_architecture"), pytest.mark.slow]


TINY = ["--arch", "cli_test_cnn", "--data", "embedded:digits", "--image-size", "16",
        "--batch-size", "32", "--projection-dim", "8", "--projection-hidden-dim", "16",
        "--epochs", "1", "--steps-per-epoch", "2", "--quiet"]
CORRUPT = ["--corruptions", "--corruption-types", "gaussian_noise,contrast",
           "--severities", "1,3", "--corruption-examples", "24"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"




def ok(result):
    assert result.exit_code == 0, result.output
    return result




@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(supcon run with a linear classifier, ce run), trained for one short epoch each."""
    root = tmp_path_factory.mktemp("runs")
    ok(invoke("train", *TINY, "--output", root / "supcon"))
    shutil.copytree(root / "supcon", root / "encoder_only")  # the contrastive stage alone
    ok(invoke("train", "--stage", "linear", "--run", root / "supcon", "--epochs", "1",
              "--steps-per-epoch", "2", "--quiet"))
    ok(invoke("train", "--stage", "ce", *TINY, "--output", root / "ce"))
    return root / "supcon", root / "ce"


@pytest.fixture(scope="module")
def evaluated(runs):
    """Both runs evaluated with every option; the SupCon run against the ce reference."""
    supcon, ce = runs
    ce_result = json.loads(ok(invoke("eval", "--run", ce, "--knn", "--knn-k", "20",
                                     "--calibration", *CORRUPT, "--json")).output)
    stored_ce = (ce / "evaluations" / "ce-test.json").stat().st_mtime_ns
    supcon_result = json.loads(ok(invoke("eval", "--frozen", "--run", supcon, "--knn",
                                         "--knn-k", "20", "--calibration", *CORRUPT,
                                         "--reference", ce, "--json")).output)
    # The ce run's stored evaluation matched, so it was reused, not recomputed.
    assert (ce / "evaluations" / "ce-test.json").stat().st_mtime_ns == stored_ce
    return supcon_result, ce_result


def _check_common(result, name):
    assert result["name"] == name and result["dataset"] == "digits:test"
    assert result["examples"] == 359 and result["image_size"] == 16
    assert 0.0 <= result["top1"] <= result["top5"] <= 1.0 and result["loss"] > 0
    assert 0.0 <= result["knn_top1"] <= 1.0 and result["knn"]["k"] == 20
    assert result["knn"]["train_examples"] == 1438
    assert 0.0 <= result["ece"] <= 1.0
    bins = result["reliability"]
    assert len(bins["bin_edges"]) == 16 and sum(bins["bin_count"]) == 359
    for confidence in filter(None, bins["bin_confidence"]):
        assert 0.0 <= confidence <= 1.0
    section = result["corruptions"]
    assert section["types"] == ["gaussian_noise", "contrast"] and section["severities"] == [1, 3]
    assert section["examples"] == 24
    for key in ("accuracy", "ece"):
        assert set(section[key]) == {"gaussian_noise", "contrast"}
        for by_severity in section[key].values():
            assert set(by_severity) == {"1", "3"}
            assert all(0.0 <= v <= 1.0 for v in by_severity.values())
    assert set(section["by_severity"]) == {"0", "1", "3"}
    assert section["by_severity"]["0"]["accuracy"] == section["clean"]["accuracy"]
    assert 0.0 <= result["mean_corruption_error"] <= 1.0


def test_eval_json_has_every_section_and_is_stored(runs, evaluated):
    supcon, _ = runs
    supcon_result, ce_result = evaluated
    _check_common(supcon_result, "frozen-test")
    _check_common(ce_result, "ce-test")
    # mCE needs a reference: without one it is explained, not invented.
    assert "mce" not in ce_result and "--reference" in ce_result["mce_note"]
    assert supcon_result["mce"] > 0
    # Relative mCE divides by the reference's loss of accuracy; if that is 0 it says so.
    assert (np.isfinite(supcon_result.get("relative_mce", np.nan))
            or "relative mCE undefined" in supcon_result["mce_note"])
    assert set(supcon_result["corruptions"]["ce"]) == {"gaussian_noise", "contrast"}
    assert supcon_result["corruptions"]["reference"]["run"] == str(runs[1])
    stored = json.loads((supcon / "evaluations" / "frozen-test.json").read_text())
    assert stored == supcon_result
    with np.load(supcon / "evaluations" / "frozen-test.npz") as sample:
        assert sample["points"].shape == (359, 2) and sample["labels"].shape == (359,)
        assert np.all(np.isfinite(sample["points"]))


def test_reference_run_against_itself_has_unit_mce(runs, evaluated):
    _, ce = runs
    result = json.loads(ok(invoke("eval", "--run", ce, *CORRUPT, "--reference", ce,
                                  "--json")).output)
    assert result["mce"] == pytest.approx(100.0)  # percent: as robust as the reference
    # Sections this call did not compute are kept from the earlier evaluation.
    assert result["knn_top1"] == evaluated[1]["knn_top1"] and "reliability" in result


def test_mce_follows_the_reference_errors(runs, evaluated, tmp_path):
    """mCE and relative mCE from a stored reference evaluation, checked by hand."""
    supcon, ce = runs
    reference = tmp_path / "reference"
    shutil.copytree(ce, reference)  # keeps model.keras's size and time: stored result reused
    path = reference / "evaluations" / "ce-test.json"
    stored = json.loads(path.read_text())
    stored["corruptions"]["clean"]["accuracy"] = 0.9
    stored["corruptions"]["accuracy"] = {"gaussian_noise": {"1": 0.8, "3": 0.6},
                                         "contrast": {"1": 0.7, "3": 0.5}}
    path.write_text(json.dumps(stored))
    result = json.loads(ok(invoke("eval", "--frozen", "--run", supcon, *CORRUPT,
                                  "--reference", reference, "--json")).output)
    ours = result["corruptions"]["accuracy"]
    clean_error = 1 - result["corruptions"]["clean"]["accuracy"]
    reference_errors = {"gaussian_noise": (0.2, 0.4), "contrast": (0.3, 0.5)}
    ce_values, relative_values = [], []
    for name, (e1, e3) in reference_errors.items():
        errors = [1 - ours[name]["1"], 1 - ours[name]["3"]]
        ce_values.append(100 * sum(errors) / (e1 + e3))
        relative_values.append(100 * sum(e - clean_error for e in errors) / (e1 + e3 - 0.2))
    assert result["mce"] == pytest.approx(np.mean(ce_values))
    assert result["relative_mce"] == pytest.approx(np.mean(relative_values))
    assert "mce_note" not in result


def test_eval_table_output(runs, evaluated):
    supcon, _ = runs
    output = ok(invoke("eval", "--frozen", "--run", supcon)).output
    assert "top-1" in output and "frozen-test.json" in output
    # A plain evaluation keeps the stored kNN, calibration and corruption sections.
    stored = json.loads((supcon / "evaluations" / "frozen-test.json").read_text())
    assert stored["knn_top1"] == evaluated[0]["knn_top1"] and "corruptions" in stored


def test_report_names_both_runs_and_writes_pngs(runs, evaluated, tmp_path):
    import matplotlib.image

    supcon, ce = runs
    fresh = tmp_path / "fresh<run>"  # trained but never evaluated; its name needs escaping
    shutil.copytree(ce, fresh, ignore=shutil.ignore_patterns("evaluations"))
    output = tmp_path / "report"
    ok(invoke("report", supcon, ce, fresh, "--output", output))
    page = (output / "index.html").read_text()
    assert "supcon" in page and ">ce<" in page
    assert "fresh&lt;run&gt;" in page and "fresh<run>" not in page
    assert "no evaluation yet" in page
    pngs = sorted(path.name for path in output.glob("*.png"))
    for name in ("accuracy.png", "ece.png", "corruptions.png", "severity.png",
                 "reliability.png", "embeddings.png"):
        assert name in pngs, pngs
    assert sum(name.startswith("loss-") for name in pngs) == 3
    for name in pngs:
        data = (output / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000, name
        assert matplotlib.image.imread(output / name).ndim == 3
        assert f'src="{name}"' in page


def test_report_errors(tmp_path):
    missing = one_error_line(invoke("report", tmp_path / "nope", "--output", tmp_path / "r"))
    assert "does not exist" in missing
    (tmp_path / "empty").mkdir()
    nothing = one_error_line(invoke("report", tmp_path / "empty", "--output", tmp_path / "r"))
    assert "nothing" in nothing or "none of the runs" in nothing
    assert not (tmp_path / "r" / "index.html").exists()


def test_report_without_matplotlib_says_how_to_install(runs, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)  # as if not installed
    line = one_error_line(invoke("report", runs[1], "--output", tmp_path / "r"))
    assert "matplotlib is not installed; pip install 'kerascon[report]'" in line


def test_unknown_corruption_suggests_a_name(runs):
    supcon, _ = runs
    before = sorted((supcon / "evaluations").glob("*")) if (supcon / "evaluations").exists() \
        else []
    line = one_error_line(invoke("eval", "--frozen", "--run", supcon, "--corruptions",
                                 "--corruption-types", "gausian_noise"))
    assert "did you mean 'gaussian_noise'" in line
    after = sorted((supcon / "evaluations").glob("*")) if (supcon / "evaluations").exists() \
        else []
    assert before == after


def test_knn_without_training_data_is_one_line(runs, tmp_path):
    _, ce = runs
    moved = tmp_path / "moved"
    shutil.copytree(ce, moved, ignore=shutil.ignore_patterns("evaluations"))
    config = moved / "stages" / "ce" / "config.yaml"
    config.write_text(config.read_text().replace("embedded:digits", str(tmp_path / "gone.npz")))
    line = one_error_line(invoke("eval", "--run", moved, "--data", "embedded:digits", "--knn"))
    assert "--knn needs the training data" in line and "drop --knn" in line


def test_knn_alone_evaluates_a_run_without_classifier(runs):
    encoder_only = runs[0].parent / "encoder_only"
    result = json.loads(ok(invoke("eval", "--run", encoder_only, "--knn", "--knn-k", "20",
                                  "--json")).output)
    assert result["name"] == "encoder-test" and result["mode"] == "encoder"
    assert 0.0 <= result["knn_top1"] <= 1.0 and "top1" not in result
    assert (encoder_only / "evaluations" / "encoder-test.json").is_file()
    line = one_error_line(invoke("eval", "--run", encoder_only, "--calibration"))
    assert "trains no classifier of its own" in line and "--knn alone" in line


def test_help_shows_examples():
    for command in ("eval", "report"):
        result = ok(invoke(command, "--help"))
        examples = result.output.split("Examples:")[1]
        assert any(line.strip().startswith("kerascon report") for line in examples.splitlines())
