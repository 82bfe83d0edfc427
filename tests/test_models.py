import pytest
import torch

from mosi_tool.models.backbones import ARCHS, build_backbone, conv5_shape, count_parameters
from mosi_tool.models.parts import BN_EPS, Conv2Plus1D, mid_width


def test_r2plus1d_10_matches_spec():
    model = build_backbone("r2plus1d_10", 9)
    assert count_parameters(model) == pytest.approx(14.4e6, rel=0.005)
    assert conv5_shape(model, 16, 112, 112) == (512, 2, 7, 7)
    assert model.feature_dim == 512


def test_r2d3d_18_matches_spec():
    model = build_backbone("r2d3d_18", 9)
    assert conv5_shape(model, 16, 112, 112) == (256, 4, 4, 4)
    assert model.feature_dim == 256
    # conv2/conv3 have no temporal extent; conv4/conv5 are full 3D
    assert model.conv3[0].conv1.kernel_size == (1, 3, 3)
    assert model.conv4[0].conv1.kernel_size == (3, 3, 3)
    assert isinstance(model.stem[3], torch.nn.MaxPool3d)


def test_r2plus1d_10_flops_per_clip():
    from torch.utils.flop_counter import FlopCounterMode

    model = build_backbone("r2plus1d_10", 9).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, 16, 112, 112))
    assert counter.get_total_flops() / 1e9 == pytest.approx(42.7, rel=0.01)


def test_mid_width_formula_keeps_parameter_count():
    # t*h*w*Cin*Cout ~= h*w*Cin*M + t*M*Cout
    for cin, cout in ((64, 64), (64, 128), (256, 512)):
        m = mid_width((3, 3, 3), cin, cout)
        full = 27 * cin * cout
        assert 9 * cin * m + 3 * m * cout <= full < 9 * cin * (m + 1) + 3 * (m + 1) * cout
    conv = Conv2Plus1D(64, 128, (3, 3, 3), (2, 2, 2))
    assert conv[0].out_channels == mid_width((3, 3, 3), 64, 128) == 230
    assert conv[0].stride == (1, 2, 2) and conv[3].stride == (2, 1, 1)


def test_batchnorm_eps_and_head():
    model = build_backbone("r2plus1d_10", 9)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert bns and all(m.eps == BN_EPS == 1e-3 for m in bns)
    assert model.dropout.p == 0.5
    assert model.fc.in_features == 512 and model.fc.out_features == 9


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_builder_forward_outputs(arch):
    torch.manual_seed(0)
    model = build_backbone(arch, 9, width=8).eval()
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        out = model(x)
    assert out.logits.shape == (2, 9)
    assert out.features.shape == (2, model.feature_dim)
    assert out.conv5.shape[:2] == (2, model.feature_dim)
    # features are the pooled conv5 and the logits come from them (dropout is off in eval)
    torch.testing.assert_close(out.features, out.conv5.mean(dim=(2, 3, 4)))
    torch.testing.assert_close(out.logits, model.fc(out.features))


def test_unknown_arch():
    with pytest.raises(ValueError, match="unknown arch"):
        build_backbone("resnet50", 9)
