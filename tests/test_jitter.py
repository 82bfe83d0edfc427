import torch

from mosi_tool.training.jitter import JitterConfig, brightness, color_jitter, hsv_to_rgb, hue, rgb_to_hsv, saturation


def test_hsv_round_trip():
    x = torch.rand(2, 3, 3, 8, 8)
    torch.testing.assert_close(hsv_to_rgb(rgb_to_hsv(x)), x, atol=1e-5, rtol=0)


def test_identity_factors():
    x = torch.rand(2, 4, 3, 8, 8)
    one = torch.ones(2, 4, 1, 1, 1)
    torch.testing.assert_close(brightness(x, one), x)
    torch.testing.assert_close(saturation(x, one), x)
    torch.testing.assert_close(hue(x, torch.zeros(2, 4, 1, 1, 1)), x, atol=1e-5, rtol=0)


def test_zero_saturation_is_gray():
    x = torch.rand(1, 2, 3, 8, 8)
    g = saturation(x, torch.zeros(1, 2, 1, 1, 1))
    torch.testing.assert_close(g[:, :, 0], g[:, :, 1])


def test_jitter_stays_in_range_and_all_gray_when_p1():
    x = torch.rand(6, 4, 3, 8, 8)
    out = color_jitter(x, JitterConfig(grayscale=1.0), torch.Generator().manual_seed(0))
    assert out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(out[:, :, 0], out[:, :, 2], atol=1e-5, rtol=0)
    none = color_jitter(x, JitterConfig(0, 0, 0, 0, 0), torch.Generator().manual_seed(0))
    torch.testing.assert_close(none, x, atol=1e-5, rtol=0)
