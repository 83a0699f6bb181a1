"""Wall time of `kerascon zoo list` and `kerascon zoo list --pretrained` (fresh processes).

Run from the repository root: ``python benchmarks/zoo_list_time.py [REPEATS]``. Prints one
line per command: best and median seconds over REPEATS runs, and the load average.
"""

import os
import statistics
import subprocess
import sys
import time

COMMANDS = (["zoo", "list"], ["zoo", "list", "--pretrained"])


def main(repeats=5):
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "COLUMNS": "200"}
    for args in COMMANDS:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "kerascon.cli.main", *args], env=env,
                           check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
        print(f"kerascon {' '.join(args)}: best {min(times):.2f} s, median "
              f"{statistics.median(times):.2f} s over {repeats} runs; load average "
              f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
