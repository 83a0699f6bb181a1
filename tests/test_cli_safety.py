"""The commands of issue 21 on real folders: kerascon deletes or replaces only its own runs
and exports, refuses everything else in one line with every file intact, removes a start
that failed before its first checkpoint, and Keras' own loader loads runs after
``import kerascon``.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from conftest import invoke_cli, one_error_line
from test_cli_folders import write_images

from kerascon.cli.progress import RichProgress
from kerascon.ownership import EXPORT_MARKER, RUN_MARKER, is_export

pytestmark = [pytest.mark.usefixtures("tiny_architecture"), pytest.mark.slow]

TINY = ["--arch", "cli_test_cnn", "--data", "embedded:digits", "--image-size", "8",
        "--batch-size", "32", "--projection-dim", "8", "--projection-hidden-dim", "16",
        "--epochs", "1", "--steps-per-epoch", "2", "--eval-split", "none"]


def tree(root):
    """Every file under ``root`` with its content (what must stay intact)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def refused(*args) -> str:
    """The one error line of a refused command (exit 1)."""
    return one_error_line(invoke_cli(*args))


def trained(*args):
    result = invoke_cli(*args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished contrastive run, shared by the tests that only read it or export it."""
    path = tmp_path_factory.mktemp("runs") / "digits"
    trained("train", *TINY, "--output", path, "--quiet")
    return path


@pytest.fixture
def documents(tmp_path, monkeypatch):
    """The current directory holds docs/thesis.txt and notes.md, a user's files."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.txt").write_text("thesis\n")
    (tmp_path / "notes.md").write_text("notes\n")
    return tmp_path


# ------------------------------------------------------------------------ train --overwrite

def test_a_new_run_carries_its_marker(run):
    marker = json.loads((run / RUN_MARKER).read_text())
    assert marker["format"] == 1 and marker["kind"] == "run" and marker["kerascon_version"]
    assert (run / "model.keras").is_file()


def test_overwrite_refuses_a_folder_of_documents(documents):
    # mkdir -p sacr/docs && echo thesis > sacr/docs/thesis.txt; train ... --output sacr --overwrite
    sacr = documents / "sacr"
    (sacr / "docs").mkdir(parents=True)
    (sacr / "docs" / "thesis.txt").write_text("thesis\n")
    before = tree(documents)
    line = refused("train", "--stage", "contrastive", "--arch", "resnet18", "--data",
                   "embedded:digits", "--image-size", "8", "--output", "sacr", "--overwrite")
    assert line == ("Error: sacr is not a kerascon run (it holds docs/, and no kerascon-run.json), "
                    "so --overwrite does not delete it: choose another --output DIR, or delete "
                    "that folder yourself")
    assert tree(documents) == before
    # Without --overwrite: no suggestion to overwrite it, nor to resume it.
    line = refused("train", *TINY, "--output", "sacr")
    assert line == ("Error: sacr already exists and is not a kerascon run (it holds docs/); a "
                    "new run goes into a new or empty folder: choose another --output DIR")
    assert tree(documents) == before


def test_overwrite_refuses_the_current_directory(documents):
    before = tree(documents)
    line = refused("train", *TINY, "--output", ".", "--overwrite")
    assert line == ("Error: . is the current directory, which kerascon never deletes to make "
                    "room for a run; choose another --output DIR")
    assert tree(documents) == before
    line = refused("train", *TINY, "--output", "..", "--overwrite")
    assert "is a parent of the current directory" in line
    assert tree(documents) == before


def test_overwrite_refuses_the_data_being_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_images(tmp_path / "dcopy", per_class=4)
    before = tree(tmp_path)
    line = refused("train", *TINY[:2], "--data", "dcopy", *TINY[4:], "--output", "dcopy",
                   "--overwrite")
    assert line == (f"Error: dcopy is the data being read ({tmp_path / 'dcopy'}), which kerascon "
                    "never deletes to make room for a run; choose another --output DIR")
    # A folder that holds the data is protected as well.
    line = refused("train", *TINY[:2], "--data", "dcopy/cat", *TINY[4:], "--output", "dcopy",
                   "--overwrite")
    assert "dcopy is a folder that holds the data being read" in line
    assert tree(tmp_path) == before


def test_overwrite_replaces_an_earlier_run_marked_or_not(tmp_path):
    path = tmp_path / "run"
    trained("train", *TINY, "--output", path, "--quiet")
    (path / "stages" / "contrastive" / "old.txt").write_text("from the earlier run\n")
    line = refused("train", *TINY, "--output", path)
    assert line == (f"Error: run directory {path} already exists and is not empty; replace it "
                    f"with --overwrite, or choose another --output DIR")
    trained("train", *TINY, "--output", path, "--overwrite", "--quiet")
    assert not (path / "stages" / "contrastive" / "old.txt").exists()
    assert (path / RUN_MARKER).is_file() and (path / "model.keras").is_file()
    # A run written before markers existed (kerascon's files only) is replaced too.
    (path / RUN_MARKER).unlink()
    (path / "stages" / "contrastive" / "old.txt").write_text("from the earlier run\n")
    trained("train", *TINY, "--output", path, "--overwrite", "--quiet")
    assert not (path / "stages" / "contrastive" / "old.txt").exists()
    assert (path / RUN_MARKER).is_file()


def test_an_empty_folder_becomes_a_run(tmp_path):
    (tmp_path / "empty").mkdir()
    trained("train", *TINY, "--output", tmp_path / "empty", "--quiet")
    assert (tmp_path / "empty" / RUN_MARKER).is_file()


# ------------------------------------------------------------------------ messages

def test_a_data_folder_given_as_a_run_is_not_suggested_as_an_output(tmp_path):
    data = tmp_path / "flowers"
    write_images(data, per_class=2)
    before = tree(tmp_path)
    line = refused("train", "--stage", "linear", "--run", data, "--quiet")
    assert line == (f"Error: {data} is not a kerascon run (it holds cat/, dog/, and no "
                    "kerascon-run.json); pass the --output of a training run")
    line = refused("train", "--run", data, "--resume")
    assert line == (f"Error: {data} is not a kerascon run (it holds cat/, dog/), so there is "
                    "nothing to resume; start a new run in a new or empty folder: --output DIR")
    for args in (("eval", "--run", data), ("export", "--run", data)):
        assert f"{data} is not a kerascon run" in refused(*args)
    assert tree(tmp_path) == before


# ------------------------------------------------------------------------ export

def test_export_refuses_what_it_does_not_own(run, documents):
    before, run_before = tree(documents), tree(run)
    fix = "write the export to a new or empty folder"
    assert refused("export", "--run", run, "--output", "docs") == (
        "Error: docs is not empty and is not an export kerascon wrote (it holds thesis.txt, and "
        f"no kerascon-export.json); {fix}, or delete that folder yourself")
    assert refused("export", "--run", run, "--output", "notes.md") == (
        f"Error: notes.md is a file, and a SavedModel (a folder) never replaces a file; {fix}")
    assert refused("export", "--run", run, "--output", run) == (
        f"Error: {run} is a kerascon run, and an export never replaces a run or writes into one "
        f"(other than its own export): {fix}")
    assert f"is inside the kerascon run {run}" in refused(
        "export", "--run", run, "--output", run / "stages")
    assert refused("export", "--run", run, "--output", "..") == (
        f"Error: .. is a parent of the current directory, which an export never replaces; {fix}")
    assert "is the current directory" in refused("export", "--run", run, "--output", ".")
    assert refused("export", "--run", run, "--format", "keras", "--output", "notes.md") == (
        "Error: notes.md exists and is not a .keras export kerascon wrote; write the export to "
        "a new .keras path, or delete that file yourself")
    assert tree(documents) == before and tree(run) == run_before


def test_export_over_an_earlier_export_and_the_run_default(run, tmp_path):
    serving = tmp_path / "serving" / "1"
    trained("export", "--run", run, "--output", serving)
    assert (serving / "saved_model.pb").is_file() and (serving / EXPORT_MARKER).is_file()
    (serving / "stale.txt").write_text("from the earlier export\n")
    trained("export", "--run", run, "--output", serving)  # replaces the earlier export
    assert not (serving / "stale.txt").exists() and (serving / "saved_model.pb").is_file()
    model = tmp_path / "model.keras"
    trained("export", "--run", run, "--format", "keras", "--output", model)
    assert is_export(model)
    trained("export", "--run", run, "--format", "keras", "--output", model)  # replaces it
    assert is_export(model)
    trained("export", "--run", run)  # RUN/export: the run's own
    assert (run / "export" / "saved_model.pb").is_file()
    trained("freeze", "--run", run)  # RUN/encoder/encoder.keras: the run's own
    assert (run / "encoder" / "encoder.keras").is_file()


def test_zoo_build_and_convert_refuse_the_users_files(documents):
    before = tree(documents)
    line = refused("zoo", "build", "resnet18.supcon_digits", "--output", "docs", "--overwrite")
    assert line == ("Error: docs is not a kerascon run (it holds thesis.txt, and no "
                    "kerascon-run.json), so --overwrite does not delete it: choose another "
                    "--output DIR, or delete that folder yourself")
    line = refused("zoo", "build", "resnet18.supcon_digits", "--output", ".", "--overwrite")
    assert "is the current directory" in line
    assert tree(documents) == before
    (documents / "docs" / "mine.keras").write_text("not a kerascon export\n")
    line = refused("zoo", "convert", "notes.md", "--output", "docs/mine.keras")
    assert "docs/mine.keras exists and is not a .keras export kerascon wrote" in line
    assert (documents / "docs" / "mine.keras").read_text() == "not a kerascon export\n"


# ------------------------------------------------------------------------ failed starts

def test_a_start_that_fails_before_its_first_checkpoint_leaves_nothing(tmp_path):
    path = tmp_path / "run"
    line = refused("train", *TINY, "--lr", "1e30", "--steps-per-epoch", "4", "--output", path,
                   "--quiet")
    assert "no checkpoint was written yet: run the same command again with a lower one" in line
    assert "--overwrite" not in line and "--resume" not in line, line
    assert not path.exists()  # nothing half-made blocks the retry
    trained("train", *TINY, "--output", path, "--quiet")
    assert (path / "model.keras").is_file()


def test_ctrl_c_before_the_first_checkpoint_then_the_same_command(tmp_path, monkeypatch):
    path = tmp_path / "run"
    (path).mkdir()  # an empty folder of the user's: emptied again, not removed

    def press_ctrl_c_twice(self, batch, logs=None):
        os.kill(os.getpid(), signal.SIGINT)  # the first one asks for a checkpoint...
        os.kill(os.getpid(), signal.SIGINT)  # ...the second one stops at once

    monkeypatch.setattr(RichProgress, "on_train_batch_end", press_ctrl_c_twice)
    args = ["train", *TINY, "--steps-per-epoch", "3", "--output", path]
    result = invoke_cli(*args)
    assert result.exit_code == 130, result.output
    assert ("Interrupted before the first checkpoint: nothing was kept, so there is nothing to "
            "resume; run the same command again to start over") in result.output
    assert "--resume" not in result.output
    assert path.is_dir() and list(path.iterdir()) == []
    monkeypatch.undo()
    trained(*args, "--quiet")
    assert (path / "model.keras").is_file()


# ------------------------------------------------------------------------ Keras' own loader

@pytest.mark.parametrize("first_import", [
    "import kerascon",
    # A kerascon module that imports Keras itself: registration waits until it has loaded.
    "import kerascon.losses.supcon",
])
def test_keras_load_model_after_import_kerascon_in_a_fresh_process(run, first_import):
    trained("freeze", "--run", run)
    light = "assert 'tensorflow' not in sys.modules" if first_import == "import kerascon" else ""
    code = textwrap.dedent(f"""
        import sys
        {first_import}
        {light}
        import keras
        model = keras.models.load_model(sys.argv[1] + "/model.keras")
        encoder = keras.models.load_model(sys.argv[1] + "/encoder/encoder.keras")
        print(type(model).__name__, type(model.optimizer).__name__, type(encoder).__name__)
    """)
    result = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-3:] == ["SupConModel", "CoupledDecaySGD", "Functional"]


# ------------------------------------------------------------------------ report

def test_report_writes_only_into_a_new_folder_or_an_earlier_report(run, documents):
    (documents / "site").mkdir()
    (documents / "site" / "index.html").write_text("<p>my home page</p>\n")
    (documents / "site" / "style.css").write_text("p {}\n")
    before = tree(documents)
    assert refused("report", run, "--output", "site") == (
        "Error: site is not empty and is not a report kerascon wrote (it holds index.html, "
        "style.css, and no kerascon-report.json); write the report to a new or empty folder, or "
        "delete that folder yourself")
    assert refused("report", run, "--output", ".") == (
        "Error: . is the current directory, which a report never writes into; write the report "
        "to a new or empty folder")
    assert tree(documents) == before
    for _ in range(2):  # a new folder, then the same one again: the earlier report is replaced
        trained("report", run, "--output", "report")
        assert (documents / "report" / "index.html").is_file()
        assert (documents / "report" / "kerascon-report.json").is_file()
