"""What reading every image header costs when an image folder is opened.

Writes N small JPEG and PNG files into a temporary class folder and times, on the same files:
the header pass alone (kerascon.data.image_files.screen_files: format, size, EXIF orientation,
bit depth) and the whole of from_image_folder (listing + header pass + one decode of every
file to validate it). Prints one JSON line.

    python benchmarks/image_folder_screening.py --files 2000
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from kerascon.data.image_files import DEFAULT_MAX_IMAGE_PIXELS, screen_files
    from kerascon.data.sources import from_image_folder

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as root:
        paths = []
        for i in range(args.files):
            folder = os.path.join(root, f"c{i % 2}")
            os.makedirs(folder, exist_ok=True)
            image = rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
            ext, data = ((".jpg", tf.io.encode_jpeg(image, quality=90)) if i % 2 == 0
                         else (".png", tf.io.encode_png(image)))
            path = os.path.join(folder, f"{i}{ext}")
            with open(path, "wb") as f:
                f.write(data.numpy())
            paths.append(path)
        start = time.perf_counter()
        problems, headers = screen_files(paths, DEFAULT_MAX_IMAGE_PIXELS)
        headers_s = time.perf_counter() - start
        assert not problems and len(headers) == args.files
        start = time.perf_counter()
        source = from_image_folder(root)
        folder_s = time.perf_counter() - start
        assert source.num_examples == args.files
    result = {"files": args.files, "size": args.size, "header_pass_s": round(headers_s, 3),
              "header_us_per_file": round(1e6 * headers_s / args.files, 1),
              "from_image_folder_s": round(folder_s, 3),
              "header_share_of_open": round(headers_s / folder_s, 3),
              "load_average": os.getloadavg()[0]}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
