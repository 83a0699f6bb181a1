"""Tests for kerascon.evaluation.corruptions (CIFAR-10-C corruptions) and robustness metrics.

Reference checks use Pillow and SciPy when they are installed (they are not kerascon
dependencies): pixelate and JPEG must match Pillow bit for bit, zoom blur, Gaussian
filtering, disk filtering and bilinear sampling must match SciPy's implementations used by
the reference ``make_cifar_c.py``.
"""

import colorsys
import functools
import io
import json
import time

import numpy as np
import pytest
import tensorflow as tf

from kerascon import evaluation
from kerascon.evaluation import (
    CORRUPTION_GROUPS,
    CORRUPTIONS,
    corrupt,
    corrupted_batches,
    corruption_errors,
    evaluate_corruptions,
    expected_calibration_error,
    mean_corruption_error,
    relative_mean_corruption_error,
)
from kerascon.evaluation import corruptions as C
from kerascon.evaluation.corruptions import _common as common
from kerascon.evaluation.corruptions import blur, digital, weather

# Corruptions without randomness: the seed must not matter.
DETERMINISTIC = {"defocus_blur", "zoom_blur", "brightness", "contrast", "pixelate",
                 "jpeg_compression"}


def natural_images(n, height=32, width=32, seed=0):
    """Images with a natural 1/f spectrum (smooth regions and edges), grey levels ~30..210."""
    rng = np.random.default_rng(seed)
    fy, fx = np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :]
    radius = np.sqrt(fy**2 + fx**2)
    radius[0, 0] = 1.0
    out = []
    for _ in range(n):
        spectrum = rng.normal(size=(height, width, 3)) + 1j * rng.normal(size=(height, width, 3))
        image = np.real(np.fft.ifft2(spectrum / radius[..., None], axes=(0, 1)))
        out.append((image - image.mean()) / image.std() * 40 + 120)
    return np.clip(np.stack(out), 0, 255).astype(np.uint8)


IMAGES = natural_images(8)


@functools.cache
def corrupted(name, severity, seed=0):
    out = corrupt(IMAGES, name, severity, seed=seed)
    out.flags.writeable = False
    return out


def damage(name, severity):
    return float(np.abs(corrupted(name, severity).astype(np.float64) - IMAGES).mean())


# ---------------------------------------------------------------- names and API
def test_names_follow_the_paper_order_without_frost():
    assert CORRUPTIONS == (
        "gaussian_noise", "shot_noise", "impulse_noise",
        "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
        "snow", "fog", "brightness",
        "contrast", "elastic_transform", "pixelate", "jpeg_compression",
    )
    assert list(CORRUPTION_GROUPS) == ["noise", "blur", "weather", "digital"]
    assert sum(CORRUPTION_GROUPS.values(), ()) == CORRUPTIONS
    assert "frost" not in CORRUPTIONS
    assert evaluation.corrupt is C.corrupt


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_every_severity_keeps_shape_changes_image_and_is_seeded(name):
    for severity in range(1, 6):
        out = corrupted(name, severity)
        assert out.shape == IMAGES.shape and out.dtype == np.uint8
        assert np.any(out != IMAGES), f"{name} severity {severity} left the images unchanged"
        again = corrupt(IMAGES, name, severity, seed=0)
        np.testing.assert_array_equal(again, out)
        other_seed = corrupt(IMAGES, name, severity, seed=1)
        if name in DETERMINISTIC:
            np.testing.assert_array_equal(other_seed, out)
        else:
            assert np.any(other_seed != out), f"{name} ignores the seed"
    if name not in DETERMINISTIC:  # images of one batch get independent draws
        same = np.repeat(IMAGES[:1], 2, axis=0)
        out = corrupt(same, name, 3, seed=0)
        assert np.any(out[0] != out[1])


def test_float_input_non_square_images_and_seed_pairs():
    as_float = IMAGES[:2].astype(np.float32)
    np.testing.assert_array_equal(corrupt(as_float, "gaussian_noise", 2, seed=4),
                                  corrupt(IMAGES[:2], "gaussian_noise", 2, seed=4))
    odd = natural_images(2, height=20, width=28, seed=3)
    for name in CORRUPTIONS:
        out = corrupt(odd, name, 5, seed=0)
        assert out.shape == odd.shape and out.dtype == np.uint8, name
        assert np.any(out != odd), name
    # an int seed s is the pair (s, 0)
    np.testing.assert_array_equal(corrupt(IMAGES, "fog", 2, seed=7),
                                  corrupt(IMAGES, "fog", 2, seed=(7, 0)))
    assert np.any(corrupt(IMAGES, "fog", 2, seed=(7, 1)) != corrupt(IMAGES, "fog", 2, seed=7))


def test_each_corruption_is_fast_on_a_cifar_batch():
    batch = natural_images(64, seed=5)
    for name in CORRUPTIONS:
        start = time.perf_counter()
        corrupt(batch, name, 5, seed=0)
        elapsed = time.perf_counter() - start
        # About 0.02-0.3 s each on one CPU core; 2 s guards against per-pixel Python loops.
        assert elapsed < 2.0, f"{name} took {elapsed:.2f}s for 64 images"


# ---------------------------------------------------------------- severity ordering
STRICTLY_MONOTONE = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur",
                     "zoom_blur", "snow", "fog", "brightness", "contrast", "pixelate",
                     "jpeg_compression")


@pytest.mark.parametrize("name", STRICTLY_MONOTONE)
def test_damage_grows_with_severity(name):
    damages = [damage(name, s) for s in range(1, 6)]
    assert all(np.diff(damages) > 0), f"{name}: mean |corrupted - clean| {damages}"


def test_motion_blur_damage_never_shrinks():
    damages = [damage("motion_blur", s) for s in range(1, 6)]
    assert all(np.diff(damages) >= 0) and damages[4] > damages[0], damages
    # Severities 3 and 4 are (radius 6, sigma 2) and (radius 8, sigma 2): the extra taps
    # weigh exp(-(13 ** 2) / 8) < 1e-9, so ImageMagick's output is the same for both.
    np.testing.assert_array_equal(corrupted("motion_blur", 3), corrupted("motion_blur", 4))


def test_glass_blur_damage_grows_with_the_number_of_shuffles():
    # Severities 1-3 shuffle once and 4-5 twice; within a group the reference only raises
    # the blur sigma, which smooths the shuffle back, so damage orders by group.
    damages = [damage("glass_blur", s) for s in range(1, 6)]
    assert min(damages[3:]) > max(damages[:3]), damages


def test_elastic_local_displacement_grows_while_affine_jitter_shrinks():
    h = w = 32
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    local, affine = [], []
    for severity in range(1, 6):
        (ay, ax), (ys, xs) = digital._elastic_positions(16, h, w, severity, seed=0)
        local.append(np.sqrt(np.mean((ys - gy) ** 2 + (xs - gx) ** 2)))
        affine.append(np.sqrt(np.mean((ay - gy) ** 2 + (ax - gx) ** 2)))
    assert local[0] == 0.0 and all(np.diff(local) > 0), local
    assert all(np.diff(affine) < 0), affine


# ---------------------------------------------------------------- formulas
def test_gaussian_noise_std_on_mid_gray():
    grey = np.full((16, 32, 32, 3), 128, np.uint8)
    for severity, c in enumerate((0.04, 0.06, 0.08, 0.09, 0.10), start=1):
        diff = C.gaussian_noise(grey, severity, seed=3).astype(np.float64) - 128
        assert np.std(diff) == pytest.approx(c * 255, rel=0.03)
        assert np.mean(diff) == pytest.approx(-0.5, abs=0.3)  # truncation to uint8


def test_shot_noise_is_poisson_in_photon_counts():
    image = np.full((16, 32, 32, 3), 100, np.uint8)
    for severity, c in enumerate((500, 250, 100, 75, 50), start=1):
        out = C.shot_noise(image, severity, seed=2).astype(np.float64)
        # counts ~ Poisson(100 / 255 * c): variance in pixel units = 100 * 255 / c
        assert np.var(out) == pytest.approx(100 * 255 / c, rel=0.06)
        assert np.mean(out) == pytest.approx(99.5, abs=0.5)


def test_impulse_noise_fraction_and_values():
    grey = np.full((16, 32, 32, 3), 128, np.uint8)
    for severity, c in enumerate((0.01, 0.02, 0.03, 0.05, 0.07), start=1):
        out = C.impulse_noise(grey, severity, seed=5)
        changed = out != 128
        assert np.mean(changed) == pytest.approx(c, rel=0.1)
        assert set(np.unique(out[changed])) <= {0, 255}
        assert np.mean(out[changed] == 255) == pytest.approx(0.5, abs=0.08)


def test_brightness_adds_to_hsv_value():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(1, 16, 16, 3)).astype(np.uint8)
    for severity, c in enumerate((0.05, 0.1, 0.15, 0.2, 0.3), start=1):
        out = C.brightness(pixels, severity)
        expected = np.empty_like(pixels)
        for (i, j), rgb in np.ndenumerate(np.zeros(pixels.shape[1:3])):
            h, s, v = colorsys.rgb_to_hsv(*(pixels[0, i, j] / 255.0))
            rgb = colorsys.hsv_to_rgb(h, s, min(v + c, 1.0))
            expected[0, i, j] = np.floor(np.clip(rgb, 0, 1) * 255)
        diff = np.abs(out.astype(int) - expected)
        assert diff.max() <= 1 and np.mean(diff == 0) > 0.97


def test_contrast_scales_about_the_channel_mean():
    x = IMAGES / 255.0
    means = x.mean(axis=(1, 2), keepdims=True)
    for severity, c in enumerate((0.75, 0.5, 0.4, 0.3, 0.15), start=1):
        expected = np.floor(np.clip((x - means) * c + means, 0, 1) * 255)
        diff = np.abs(C.contrast(IMAGES, severity).astype(int) - expected)
        assert diff.max() <= 1 and np.mean(diff == 0) > 0.99


def test_pixelate_and_jpeg_match_tensorflow_and_pillow():
    image = pytest.importorskip("PIL.Image")
    odd = natural_images(2, height=37, width=29, seed=4)
    for images in (IMAGES[:3], odd):
        _, h, w, _ = images.shape
        for severity, c in enumerate((0.95, 0.9, 0.85, 0.75, 0.65), start=1):
            small = (int(w * c), int(h * c))
            expected = [np.asarray(image.fromarray(a).resize(small, image.BOX)
                                   .resize((w, h), image.BOX)) for a in images]
            np.testing.assert_array_equal(C.pixelate(images, severity), np.stack(expected))
    for severity, quality in enumerate((80, 65, 58, 50, 40), start=1):
        out = C.jpeg_compression(IMAGES, severity)
        encoded = tf.io.encode_jpeg(IMAGES[0], quality=quality)
        np.testing.assert_array_equal(
            out[0], tf.io.decode_jpeg(encoded, dct_method="INTEGER_ACCURATE").numpy())
        for a, b in zip(IMAGES, out):
            buffer = io.BytesIO()
            image.fromarray(a).save(buffer, "JPEG", quality=quality)
            np.testing.assert_array_equal(np.asarray(image.open(buffer)), b)


def test_zoom_blur_matches_scipy_clipped_zoom():
    ndimage = pytest.importorskip("scipy.ndimage")

    def clipped_zoom(img, factor):  # reference make_cifar_c.clipped_zoom
        h = img.shape[0]
        ch = int(np.ceil(h / factor))
        top = (h - ch) // 2
        img = ndimage.zoom(img[top:top + ch, top:top + ch], (factor, factor, 1), order=1)
        trim = (img.shape[0] - h) // 2
        return img[trim:trim + h, trim:trim + h]

    for severity, end in enumerate((1.06, 1.11, 1.16, 1.21, 1.26), start=1):
        factors = np.arange(1, end, 0.01)
        expected = []
        for a in IMAGES[:3]:
            x = (a / 255.0).astype(np.float32)
            total = sum(clipped_zoom(x, z) for z in factors)
            expected.append(np.uint8(np.clip((x + total) / (len(factors) + 1), 0, 1) * 255))
        diff = np.abs(C.zoom_blur(IMAGES[:3], severity).astype(int) - np.stack(expected))
        assert diff.max() <= 1 and np.mean(diff == 0) > 0.99  # float32 reference


def test_filters_match_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = IMAGES[:2] / 255.0
    for sigma in (0.25, 0.4, 1.3):  # skimage gaussian: mode 'nearest', truncate 4
        expected = np.stack([ndimage.gaussian_filter(a, (sigma, sigma, 0), mode="nearest")
                             for a in x])
        np.testing.assert_allclose(common._gaussian_blur(tf.constant(x), sigma).numpy(), expected,
                                   atol=1e-12)
    for severity, (radius, alias) in enumerate(blur._DEFOCUS_BLUR, start=1):
        kernel = blur._disk_kernel(radius, alias)
        assert kernel.sum() == pytest.approx(1.0)
        expected = np.stack([np.stack([ndimage.correlate(a[..., ch], kernel, mode="mirror")
                                       for ch in range(3)], -1) for a in x])
        got = blur._correlate2d(tf.constant(x), kernel, "reflect101").numpy()
        np.testing.assert_allclose(got, expected, atol=1e-12)
    # radius 0.3 keeps only the centre: the kernel is the 3x3 Gaussian of sigma 0.4
    g = np.exp(-np.array([1.0, 0.0, 1.0]) / (2 * 0.4**2))
    np.testing.assert_allclose(blur._disk_kernel(0.3, 0.4), np.outer(g, g) / g.sum() ** 2)
    # bilinear sampling with scipy's 'reflect' and 'mirror' borders, positions off the image
    rng = np.random.default_rng(0)
    ys, xs = rng.uniform(-3, 35, (2, 32, 32)), rng.uniform(-3, 35, (2, 32, 32))
    for mode, scipy_mode in (("symmetric", "reflect"), ("reflect101", "mirror")):
        expected = np.stack([np.stack([
            ndimage.map_coordinates(x[n, ..., ch], [ys[n], xs[n]], order=1, mode=scipy_mode)
            for ch in range(3)], -1) for n in range(2)])
        got = common._bilinear(tf.constant(x), ys, xs, mode).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-12)


def test_glass_blur_shuffle_matches_the_reference_loop():
    rng = np.random.default_rng(1)
    h, w, delta, iterations = 9, 7, 1, 2
    steps = (h - 2 * delta) * (w - 2 * delta)
    offsets = rng.integers(-delta, delta, size=(3, iterations, steps, 2))
    images = rng.integers(0, 256, size=(3, h, w, 3)).astype(np.uint8)
    source = blur._glass_source(offsets, h, w, delta)
    for n in range(3):
        x = images[n].copy()
        for it in range(iterations):  # the reference loop, numpy-view "swap" included
            step = 0
            for r in range(h - delta, delta, -1):
                for q in range(w - delta, delta, -1):
                    dx, dy = offsets[n, it, step]
                    x[r, q], x[r + dy, q + dx] = x[r + dy, q + dx], x[r, q]
                    step += 1
        np.testing.assert_array_equal(images[n].reshape(-1, 3)[source[n]].reshape(h, w, 3), x)


def test_glass_blur_follows_the_reference_recipe():
    ndimage = pytest.importorskip("scipy.ndimage")
    images = IMAGES[:3]
    for severity, (sigma, delta, iterations) in enumerate(blur._GLASS_BLUR, start=1):
        offsets = blur._glass_offsets(3, 32, 32, delta, iterations, seed=2)
        expected = []
        for n, a in enumerate(images):  # make_cifar_c.glass_blur with these offsets
            x = np.uint8(ndimage.gaussian_filter(a / 255.0, (sigma, sigma, 0),
                                                 mode="nearest") * 255)
            for it in range(iterations):
                step = 0
                for r in range(32 - delta, delta, -1):
                    for q in range(32 - delta, delta, -1):
                        dx, dy = offsets[n, it, step]
                        x[r, q], x[r + dy, q + dx] = x[r + dy, q + dx], x[r, q]
                        step += 1
            blurred = ndimage.gaussian_filter(x / 255.0, (sigma, sigma, 0), mode="nearest")
            expected.append(np.uint8(np.clip(blurred, 0, 1) * 255))
        np.testing.assert_array_equal(C.glass_blur(images, severity, seed=2), np.stack(expected))


def test_motion_blur_is_imagemagick_one_sided_gaussian():
    weights, dy, dx = common._motion_blur_taps(6, 2.0, np.array([0.0, 90.0]))
    assert len(weights) == 13  # 2 * ceil(radius) + 1
    expected = np.exp(-np.arange(13.0) ** 2 / 8)
    np.testing.assert_allclose(weights, expected / expected.sum())
    np.testing.assert_array_equal(dx[0], np.arange(13))  # angle 0: along the row
    np.testing.assert_array_equal(dy[0], 0)
    np.testing.assert_array_equal(dy[1], np.arange(13))  # angle 90: down the column
    np.testing.assert_array_equal(dx[1], 0)
    x = IMAGES[:2].astype(np.float64)
    out = common._motion_blur(tf.constant(x), 6, 2.0, np.array([0.0, 90.0])).numpy()
    idx = np.minimum(np.arange(32)[:, None] + np.arange(13)[None, :], 31)  # edge repeated
    along_rows = np.einsum("k,hwkc->hwc", weights, x[0][:, idx])
    along_cols = np.einsum("k,hkwc->hwc", weights, x[1][idx])
    np.testing.assert_array_equal(out[0], np.floor(along_rows + 0.5))
    np.testing.assert_array_equal(out[1], np.floor(along_cols + 0.5))


def test_fog_and_snow_follow_their_formulas():
    for thickness, (severity, value) in zip((0.2, 1.5), ((1, 0.4), (5, 0.6))):
        flat = np.full((2, 32, 32, 3), round(value * 255), np.uint8)
        v = flat[0, 0, 0, 0] / 255.0
        out = C.fog(flat, severity, seed=0) / 255.0
        # v * (v + t * plasma) / (v + t), plasma spanning exactly [0, 1]
        assert out.min() == pytest.approx(v * v / (v + thickness), abs=1 / 255)
        assert out.max() == pytest.approx(v, abs=1 / 255)
    assert np.all(C.fog(np.zeros((1, 32, 32, 3), np.uint8), 5) == 0)  # max_val 0: stays black
    maps = weather._plasma_fractal(weather._UniformDraws(tf.constant([1, 2], tf.int64), 15), 3, 32, 2.0)
    np.testing.assert_allclose(maps.min(axis=(1, 2)), 0)
    np.testing.assert_allclose(maps.max(axis=(1, 2)), 1)
    # snow only adds flakes to the whitened image
    for severity, keep in zip(range(1, 6), (0.95, 0.9, 0.9, 0.85, 0.8)):
        x = IMAGES / 255.0
        gray = (x * [0.299, 0.587, 0.114]).sum(-1, keepdims=True)
        whitened = keep * x + (1 - keep) * np.maximum(x, gray * 1.5 + 0.5)
        base = np.floor(np.clip(whitened, 0, 1) * 255)
        out = corrupted("snow", severity).astype(np.float64)
        assert np.all(out >= base - 1) and np.mean(out > base + 1) > 0.01


# ---------------------------------------------------------------- errors and batches
def test_errors_are_one_line_and_helpful():
    with pytest.raises(ValueError, match="did you mean 'gaussian_noise'"):
        corrupt(IMAGES, "gausian_noise", 1)
    with pytest.raises(ValueError, match="frost is not implemented"):
        corrupt(IMAGES, "frost", 1)
    for severity in (0, 6, 2.5, True, "3"):
        with pytest.raises(ValueError, match="severity must be an integer in 1..5"):
            corrupt(IMAGES, "fog", severity)
    with pytest.raises(ValueError, match=r"images\[None\]"):
        corrupt(IMAGES[0], "fog", 1)
    with pytest.raises(ValueError, match=r"not \[0, 1\]"):
        corrupt(-IMAGES.astype(np.float32), "fog", 1)
    with pytest.raises(ValueError, match="seed must be an int or a pair"):
        corrupt(IMAGES, "fog", 1, seed=1.5)
    with pytest.raises(ValueError, match="did you mean 'contrast'"):
        corrupted_batches(IMAGES, np.zeros(8), ["contrst"])  # checked before iterating
    with pytest.raises(ValueError, match="repeat a value"):
        corrupted_batches(IMAGES, np.zeros(8), ["fog"], [1, 1])
    with pytest.raises(ValueError, match="labels have"):
        corrupted_batches(IMAGES, np.zeros(5), ["fog"])


def test_corrupted_batches_cover_everything_in_order():
    labels = np.arange(8)
    batches = list(corrupted_batches(IMAGES, labels, ["shot_noise", "contrast"], [2, 5],
                                     batch_size=3, seed=4))
    assert [(c, s, len(y)) for c, s, _, y in batches] == [
        (c, s, k) for c in ("shot_noise", "contrast") for s in (2, 5) for k in (3, 3, 2)
    ]
    np.testing.assert_array_equal(np.concatenate([y for *_, y in batches[:3]]), labels)
    np.testing.assert_array_equal(batches[0][2], corrupt(IMAGES[:3], "shot_noise", 2, seed=4))
    np.testing.assert_array_equal(batches[1][2],
                                  corrupt(IMAGES[3:6], "shot_noise", 2, seed=(4, 1)))


# ---------------------------------------------------------------- robustness metrics
MODEL_ACC = {"fog": {1: 0.9, 2: 0.7}, "snow": {"1": 0.8, "2": 0.6}}  # int or str severities
REF_ACC = {"fog": {1: 0.8, 2: 0.6}, "snow": {1: 0.7, 2: 0.5}}


def test_corruption_errors_and_mce_on_a_hand_computed_table():
    errors, reference = corruption_errors(MODEL_ACC), corruption_errors(REF_ACC)
    assert errors["fog"] == pytest.approx({"1": 0.1, "2": 0.3})
    result = mean_corruption_error(errors, reference)
    # fog: (0.1 + 0.3) / (0.2 + 0.4); snow: (0.2 + 0.4) / (0.3 + 0.5)
    assert result["ce"] == pytest.approx({"fog": 100 * 0.4 / 0.6, "snow": 75.0})
    assert result["mce"] == pytest.approx((100 * 0.4 / 0.6 + 75.0) / 2)  # 70.83 %
    relative = relative_mean_corruption_error(errors, 0.05, reference, 0.1)
    # fog: (0.4 - 2 * 0.05) / (0.6 - 2 * 0.1) = 75 %; snow: (0.6 - 0.1) / (0.8 - 0.2)
    assert relative["relative_ce"] == pytest.approx({"fog": 75.0, "snow": 100 * 0.5 / 0.6})
    assert relative["relative_mce"] == pytest.approx((75.0 + 100 * 0.5 / 0.6) / 2)
    json.dumps(result), json.dumps(relative)


def test_metric_errors_name_the_problem():
    errors = corruption_errors(MODEL_ACC)
    with pytest.raises(ValueError, match="different corruptions"):
        mean_corruption_error(errors, {"fog": errors["fog"]})
    with pytest.raises(ValueError, match="severities for 'fog' differ"):
        mean_corruption_error(errors, {"fog": {1: 0.2}, "snow": errors["snow"]})
    with pytest.raises(ValueError, match="all 0"):
        mean_corruption_error(errors, {"fog": {1: 0, 2: 0}, "snow": errors["snow"]})
    with pytest.raises(ValueError, match="no degradation on 'fog'"):
        relative_mean_corruption_error(errors, 0.05, {"fog": {1: 0.1, 2: 0.1},
                                                      "snow": errors["snow"]}, 0.1)
    with pytest.raises(ValueError, match="not a percentage"):
        corruption_errors({"fog": {1: 90.0}})
    with pytest.raises(ValueError, match="twice"):
        corruption_errors({"fog": {1: 0.9, "1": 0.8}})


def _flat_images():
    """Four dark (60) and four bright (190) flat images; class = bright."""
    values = np.array([60] * 4 + [190] * 4, np.uint8)
    return np.broadcast_to(values[:, None, None, None], (8, 32, 32, 3)).copy(), \
        (values > 128).astype(int)


def _brightness_classifier(batch):
    """P(bright) = sigmoid((mean pixel - 128) / 16), as probabilities [B, 2]."""
    p = 1 / (1 + np.exp(-(batch.reshape(len(batch), -1).mean(1) - 128) / 16))
    return np.stack([1 - p, p], axis=1)


def test_evaluate_corruptions_on_a_fixed_classifier():
    images, labels = _flat_images()
    names = ["gaussian_noise", "brightness", "contrast"]
    result = evaluate_corruptions(_brightness_classifier, images, labels, names, batch_size=3)
    assert result["clean"]["accuracy"] == 1.0
    # HSV value 60/255 + 0.3 -> 136 > 128 at severity 5 only: the dark half turns "bright".
    assert result["accuracy"]["brightness"] == {"1": 1.0, "2": 1.0, "3": 1.0, "4": 1.0,
                                                "5": 0.5}
    assert result["accuracy"]["contrast"] == {str(s): 1.0 for s in range(1, 6)}  # flat: no-op
    assert result["accuracy"]["gaussian_noise"] == {str(s): 1.0 for s in range(1, 6)}
    severe = C.brightness(images, 5)
    assert result["ece"]["brightness"]["5"] == pytest.approx(
        expected_calibration_error(labels, _brightness_classifier(severe)))
    assert result["by_severity"]["0"] == result["clean"]
    assert result["by_severity"]["5"]["accuracy"] == pytest.approx(2.5 / 3)
    assert json.loads(json.dumps(result)) == result
    # logits give the same numbers (softmax of log-probabilities + const)

    def logits(batch):
        return np.log(_brightness_classifier(batch)) + 3.0
    from_logits = evaluate_corruptions(logits, images, labels, names, batch_size=3)
    assert from_logits["accuracy"] == result["accuracy"]
    for name in names:
        assert from_logits["ece"][name] == pytest.approx(result["ece"][name])
    mce = mean_corruption_error(corruption_errors(result["accuracy"]),
                                corruption_errors({n: {s: 0.5 for s in range(1, 6)}
                                                   for n in names}))
    assert mce["ce"]["brightness"] == pytest.approx(100 * 0.5 / 2.5)
