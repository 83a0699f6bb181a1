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


def cpu_flags(cpuinfo=None):
    """The CPU's feature flags: the first ``flags`` (x86) or ``Features`` (Arm) line of
    /proc/cpuinfo, or of the text ``cpuinfo`` when given. An empty set where there is none.

    Example:
        >>> sorted(cpu_flags("processor : 0\\nflags : fpu sse2 avx2 avx512f\\n"))
        ['avx2', 'avx512f', 'fpu', 'sse2']
    """
    text = _read("/proc/cpuinfo") if cpuinfo is None else cpuinfo
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return set(value.split())
    return set()


def vector_extensions(flags):
    """The vector and matrix extensions among ``flags`` that decide TensorFlow's and oneDNN's
    CPU kernels (AVX, AVX2, FMA, AVX-VNNI, every AVX-512 subset, AMX), sorted.

    Example:
        >>> vector_extensions({"fpu", "sse2", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile"})
        ['amx_tile', 'avx2', 'avx512_bf16', 'avx512f', 'fma']
    """
    return sorted(f for f in flags if f.startswith(("avx", "amx")) or f == "fma")


def thread_settings():
    """The settings that decide how many threads and which kernels the frameworks use.

    Environment variables (None: unset) and, for the frameworks already imported (nothing
    is imported here), their thread pools: TensorFlow's intra-/inter-op threads (0: TF's
    default, one per usable core) and whether TensorFlow was built with oneDNN; PyTorch's
    intra-/inter-op threads.
    """
    record = {name: os.environ.get(name) for name in (
        "TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "OMP_NUM_THREADS",
        "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")}
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        try:
            record["tf_intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
            record["tf_inter_op_threads"] = tf.config.threading.get_inter_op_parallelism_threads()
        except AttributeError:  # a stub or a partly imported module
            pass
        record["tf_onednn_build"] = _tensorflow_onednn_build()
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_num_threads"):
        record["torch_intra_op_threads"] = torch.get_num_threads()
        record["torch_inter_op_threads"] = torch.get_num_interop_threads()
    return record


def _tensorflow_onednn_build():
    """True/False: TensorFlow was built with oneDNN (its private flag; None if unknown)."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def load_average():
    """The 1, 5 and 15 minute load averages as one string, or None without /proc."""
    return " ".join(_read("/proc/loadavg").split()[:3]) or None


def runtime_record():
    """What a benchmark row records next to its numbers: CPU model and vector extensions,
    usable cores, the thread and oneDNN settings (:func:`thread_settings`) and the load
    average now. Imports nothing; reads TensorFlow's and PyTorch's thread pools if loaded.
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu_model": cpu_model(), "cpu_vector_extensions": vector_extensions(cpu_flags()),
            "cpu_cores_usable": usable, "cpu_cores_logical": os.cpu_count(),
            **thread_settings(), "load_average": load_average()}


def runtime_line(record):
    """:func:`runtime_record` as one line for a benchmark's output."""
    def shown(key):
        value = record.get(key)
        return "unset" if value is None else str(value)

    parts = [f"CPU {record['cpu_model']} ({record['cpu_cores_usable']} usable / "
             f"{record['cpu_cores_logical']} logical cores)",
             "extensions " + (" ".join(record["cpu_vector_extensions"]) or "none"),
             f"TF_ENABLE_ONEDNN_OPTS={shown('TF_ENABLE_ONEDNN_OPTS')}",
             f"ONEDNN_MAX_CPU_ISA={shown('ONEDNN_MAX_CPU_ISA')}",
             f"OMP_NUM_THREADS={shown('OMP_NUM_THREADS')}"]
    if "tf_intra_op_threads" in record:
        parts.append(f"TF threads intra {record['tf_intra_op_threads']} / inter "
                     f"{record['tf_inter_op_threads']} (0: TF's default)"
                     + ("" if record.get("tf_onednn_build") is None
                        else f", oneDNN build {record['tf_onednn_build']}"))
    if "torch_intra_op_threads" in record:
        parts.append(f"PyTorch threads intra {record['torch_intra_op_threads']} / inter "
                     f"{record['torch_inter_op_threads']}")
    parts.append(f"load average {shown('load_average')}")
    return "; ".join(parts)


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
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": cpu_model(),
        "cpu_vector_extensions": vector_extensions(cpu_flags()),
        "cpu_cores_logical": os.cpu_count(),
        "cpu_cores_usable": affinity,
        "threads": thread_settings(),
        "memory_gib": _mem_total_gib(),
        "gpus": gpus,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "kerascon_git": _git_revision(),
        "load_average_at_start": load_average(),
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
    print(f"- Vector extensions: {' '.join(info['cpu_vector_extensions']) or 'none'}")
    threads = info["threads"]
    print("- Threads and oneDNN: " + ", ".join(
        f"{key}={'unset' if value is None else value}" for key, value in threads.items()))
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


# ---------------------------------------------------------------------- statistics
#: Student's t 0.975 quantile (two-sided 95%) by degrees of freedom; SciPy is not needed.
T_975 = {1: 12.706205, 2: 4.302653, 3: 3.182446, 4: 2.776445, 5: 2.570582, 6: 2.446912,
         7: 2.364624, 8: 2.306004, 9: 2.262157, 10: 2.228139, 11: 2.200985, 12: 2.178813,
         13: 2.160369, 14: 2.144787, 15: 2.131450, 16: 2.119905, 17: 2.109816, 18: 2.100922,
         19: 2.093024, 20: 2.085963, 21: 2.079614, 22: 2.073873, 23: 2.068658, 24: 2.063899,
         25: 2.059539, 26: 2.055529, 27: 2.051831, 28: 2.048407, 29: 2.045230, 30: 2.042272,
         40: 2.021075, 60: 2.000298, 120: 1.979930}
NORMAL_975 = 1.959964


def t_quantile_975(df):
    """Student's t 0.975 quantile for ``df`` >= 1 degrees of freedom.

    Exact (6 decimals) for df 1-30, 40, 60 and 120; linear in 1/df between them and towards
    the normal quantile beyond 120 (off by less than 1e-4).

    Example:
        >>> t_quantile_975(4), t_quantile_975(1000) < 1.963
        (2.776445, True)
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df in T_975:
        return T_975[df]
    known = sorted(T_975) + [float("inf")]
    upper = next(d for d in known if d > df)
    lower = max(d for d in known if d < df)
    value = T_975.get(upper, NORMAL_975)
    weight = (1 / lower - 1 / df) / (1 / lower - (0 if upper == float("inf") else 1 / upper))
    return T_975[lower] + weight * (value - T_975[lower])


def mean_std(values):
    """Mean and sample standard deviation (n - 1; 0 for one value) of ``values``."""
    values = [float(v) for v in values]
    if not values:
        return None, None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5


def paired_t_interval(a, b):
    """Mean of the paired differences ``a - b`` and its two-sided 95% t-interval.

    Returns ``(mean, low, high, n)``; with fewer than two pairs the interval is
    ``(None, None)``.

    Example:
        >>> [round(v, 4) for v in paired_t_interval([2, 4, 6, 8, 10], [1, 2, 3, 4, 5])]
        [3.0, 1.0368, 4.9632, 5]
    """
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} and {len(b)}")
    differences = [float(x) - float(y) for x, y in zip(a, b)]
    mean, std = mean_std(differences)
    n = len(differences)
    if n < 2:
        return mean, None, None, n
    half = t_quantile_975(n - 1) * std / n ** 0.5
    return mean, mean - half, mean + half, n
