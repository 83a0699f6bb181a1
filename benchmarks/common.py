"""Shared helpers for the kerascon benchmarks: machine description, memory, output.

Nothing here imports TensorFlow at module import time, so the helpers can be used
before the thread settings are applied.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import shlex
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 2**20


# ---------------------------------------------------------------------- machine
def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def cpu_model():
    """The CPU model name from /proc/cpuinfo (Linux), else ``platform.processor()``."""
    for line in _read("/proc/cpuinfo").splitlines():
        if line.lower().startswith(("model name", "hardware", "cpu model")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _mem_total_gib():
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) * 1024 / 2**30, 1)
    return None


def _git_revision():
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
        if rev.returncode != 0:
            return None
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def command_line():
    """The command that was run, shell-quoted, for copying into BENCHMARKS.md."""
    return " ".join(shlex.quote(a) for a in [os.path.basename(sys.executable)] + sys.argv)


def machine_info():
    """A dict describing the machine and software; imports TensorFlow and Keras."""
    import keras
    import tensorflow as tf

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    gpus = []
    for dev in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(dev)
        except Exception:  # noqa: BLE001 - details are best effort
            details = {}
        gpus.append(details.get("device_name", dev.name))
    load = " ".join(_read("/proc/loadavg").split()[:3]) or None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": cpu_model(),
        "cpu_cores_logical": os.cpu_count(),
        "cpu_cores_usable": affinity,
        "memory_gib": _mem_total_gib(),
        "gpus": gpus,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "kerascon_git": _git_revision(),
        "load_average_at_start": load,
        "command": command_line(),
    }


def print_machine(info):
    gpus = ", ".join(info["gpus"]) if info["gpus"] else "none"
    print(f"- Date: {info['date']}")
    print(f"- CPU: {info['cpu_model']} ({info['cpu_cores_usable']} usable / "
          f"{info['cpu_cores_logical']} logical cores), RAM {info['memory_gib']} GiB, GPU: {gpus}")
    print(f"- Software: Python {info['python']}, TensorFlow {info['tensorflow']}, "
          f"Keras {info['keras']} ({info['keras_backend']}), kerascon {info['kerascon_git']}, "
          f"{info['os']}")
    print(f"- Load average at start: {info['load_average_at_start']}")
    print(f"- Command: `{info['command']}`")


def configure_threads(threads):
    """Set TensorFlow's intra-op thread pool size if ``threads`` > 0 (0: TF's default).

    Must run before TensorFlow executes anything. Inter-op threads are left alone.
    """
    if threads and threads > 0:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)


# ---------------------------------------------------------------------- memory
def _status_kib(key):
    for line in _read("/proc/self/status").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def current_rss_bytes():
    """Resident set size now (VmRSS), or None where /proc is missing."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib * 1024


def reset_peak_rss():
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS.

    Writes ``5`` to /proc/self/clear_refs (Linux >= 4.0). Returns True on success; on
    failure the peak is the process-lifetime peak (``ru_maxrss``) and callers should say so.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes():
    """Peak resident set size since the last :func:`reset_peak_rss` (VmHWM).

    Falls back to ``getrusage(RUSAGE_SELF).ru_maxrss`` (process-lifetime peak).
    """
    kib = _status_kib("VmHWM")
    if kib is None:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if sys.platform == "darwin":  # bytes there
            return kib
    return kib * 1024


def gpu_reset_peak():
    """Reset TF's peak-memory counter of GPU:0; False without a GPU."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return False
    try:
        tf.config.experimental.reset_memory_stats("GPU:0")
        return True
    except (ValueError, RuntimeError):
        return False


def gpu_peak_bytes():
    """TF's peak allocated memory on GPU:0 since the last reset, or None."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    try:
        return tf.config.experimental.get_memory_info("GPU:0")["peak"]
    except (ValueError, RuntimeError):
        return None


def mib(n_bytes):
    return None if n_bytes is None else round(n_bytes / MIB, 1)


# ---------------------------------------------------------------------- output
def _fmt(value):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def markdown_table(headers, rows):
    """Rows (lists) as a GitHub markdown table; numbers right-aligned."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |",
             "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"]
    for row in cells:
        lines.append("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |")
    return "\n".join(lines)


def write_json(path, payload):
    """Write ``payload`` as indented JSON to ``path`` (``-`` for stdout)."""
    text = json.dumps(payload, indent=2, sort_keys=False)
    if path == "-":
        print(text)
        return
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w") as f:
        f.write(text + "\n")
    print(f"\nWrote {path}")


def median(values):
    values = sorted(values)
    n = len(values)
    if n == 0:
        return None
    mid = n // 2
    return values[mid] if n % 2 else 0.5 * (values[mid - 1] + values[mid])
