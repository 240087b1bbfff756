"""Pixel scorer maths against formulas written out here (PSNR) and skimage called directly (SSIM)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

from unified_bench.scorers.functional import (
    PSNR_CEILING_DB,
    psnr_db,
    resize_to_reference,
    rgb_array,
    ssim_value,
)

GAUSSIAN = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}  # Wang et al. 2004


def noise(size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_psnr_is_10_log10_of_peak_squared_over_the_mean_squared_error():
    reference = noise(8, 0)
    reconstruction = reference.astype(np.int16)
    reconstruction[0, 0, 0] = reconstruction[0, 0, 0] + (5 if reconstruction[0, 0, 0] < 250 else -5)
    mse = 25 / reference.size
    assert psnr_db(reference, reconstruction.astype(np.uint8)) == pytest.approx(10 * math.log10(255**2 / mse))


def test_identical_images_get_the_ceiling_not_infinity():
    image = noise(8, 1)
    assert psnr_db(image, image.copy()) == PSNR_CEILING_DB


@pytest.mark.parametrize("side", [3, 4, 10, 11, 16])
def test_ssim_uses_the_gaussian_window_from_11_pixels_and_else_the_largest_odd_uniform_window(side):
    reference, reconstruction = noise(side, 2), noise(side, 3)
    if side >= 11:
        settings = GAUSSIAN
    else:
        window = side if side % 2 else side - 1
        settings = {"gaussian_weights": False, "win_size": window, "use_sample_covariance": False}
    expected = structural_similarity(reference, reconstruction, channel_axis=-1, data_range=255, **settings)
    assert ssim_value(reference, reconstruction) == pytest.approx(float(expected), abs=1e-12)


def test_ssim_of_images_under_3_pixels_is_nan():
    assert math.isnan(ssim_value(noise(2, 4), noise(2, 5)))


def test_ssim_takes_the_data_range_of_uint8_not_of_the_values_present():
    reference = np.full((16, 16, 3), 100, dtype=np.uint8)
    reference[::2] = 110  # values span 100..110, far from 0..255
    reconstruction = reference.copy()
    reconstruction[1::2] = 104
    expected = structural_similarity(
        reference,
        reconstruction,
        channel_axis=-1,
        data_range=255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert ssim_value(reference, reconstruction) == pytest.approx(float(expected), abs=1e-12)


def test_a_reconstruction_is_resized_bicubically_to_the_reference_and_made_rgb():
    reference = Image.new("RGB", (20, 12))
    reconstruction = Image.fromarray(noise(8, 6)[:, :, 0], mode="L")
    resized = resize_to_reference(reconstruction, reference)
    expected = reconstruction.convert("RGB").resize((20, 12), Image.Resampling.BICUBIC)
    assert resized.mode == "RGB" and resized.size == (20, 12)
    assert np.array_equal(np.asarray(resized), np.asarray(expected))
    same_size = Image.fromarray(np.random.default_rng(7).integers(0, 256, (12, 20, 3), dtype=np.uint8))
    assert resize_to_reference(same_size, reference) is same_size


def test_rgb_array_converts_other_modes():
    grey = Image.fromarray(np.full((4, 4), 7, dtype=np.uint8), mode="L")
    array = rgb_array(grey)
    assert array.shape == (4, 4, 3) and array.dtype == np.uint8 and (array == 7).all()
