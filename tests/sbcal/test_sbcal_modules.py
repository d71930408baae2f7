"""SBCNet's SFP and ASR modules against slow, hand-written references (DESIGN section 3)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from alstrategies.models import build_model
from alstrategies.sbcal.network import (
    AddRefinement,
    AttentionRefinement,
    ConcatRefinement,
    DisBlock,
    SBCNet,
)

BACKBONES = ["unet", "unetpp", "attention_unet"]


# -- slow references ------------------------------------------------------------------------
def ref_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """A stride-1 conv with 'same' zero padding, one kernel offset at a time (float64)."""
    weight = conv.weight.detach().double()
    kh, kw = weight.shape[-2:]
    height, width = x.shape[-2:]
    padded = F.pad(x.double(), (kw // 2, kw // 2, kh // 2, kh // 2))
    out = torch.zeros(x.shape[0], weight.shape[0], height, width, dtype=torch.float64)
    for dy in range(kh):
        for dx in range(kw):
            window = padded[:, :, dy : dy + height, dx : dx + width]
            out += torch.einsum("oi,bihw->bohw", weight[:, :, dy, dx], window)
    if conv.bias is not None:
        out += conv.bias.detach().double().view(1, -1, 1, 1)
    return out


def ref_batchnorm(x: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    """Eval-mode BatchNorm: running statistics, then the affine map (float64)."""

    def per_channel(t: torch.Tensor) -> torch.Tensor:
        return t.detach().double().view(1, -1, 1, 1)

    normalised = (x.double() - per_channel(bn.running_mean)) / torch.sqrt(
        per_channel(bn.running_var) + bn.eps
    )
    return normalised * per_channel(bn.weight) + per_channel(bn.bias)


def ref_softmax_channels(z: torch.Tensor) -> torch.Tensor:
    """exp(z_c) / sum_c exp(z_c) over dim 1, shifted by the maximum for stability."""
    e = torch.exp(z - z.max(dim=1, keepdim=True).values)
    return e / e.sum(dim=1, keepdim=True)


def ref_attention_refinement(f: torch.Tensor, s: torch.Tensor, asr: AttentionRefinement) -> torch.Tensor:
    """``f + f * A * c_dec`` with ``A = softmax_c(BN(conv3x3 s) + BN(conv1x1 s))``."""
    branch3 = ref_batchnorm(ref_conv(s, asr.branch3[0]), asr.branch3[1])
    branch1 = ref_batchnorm(ref_conv(s, asr.branch1[0]), asr.branch1[1])
    attention = ref_softmax_channels(branch3 + branch1)
    f = f.double()
    return f + f * attention * f.shape[1]


def ref_concat_refinement(f: torch.Tensor, s: torch.Tensor, asr: ConcatRefinement) -> torch.Tensor:
    """One 1x1 conv over ``[f, s]``: ``W [f; s] + b`` at every pixel."""
    stacked = torch.cat([f, s], dim=1).double()
    weight = asr.conv.weight.detach().double()[:, :, 0, 0]
    return torch.einsum("oi,bihw->bohw", weight, stacked) + asr.conv.bias.detach().double().view(1, -1, 1, 1)


def ref_refinement(f: torch.Tensor, s: torch.Tensor, asr: nn.Module) -> torch.Tensor:
    """The reference of whichever ASR variant ``asr`` is."""
    if isinstance(asr, AttentionRefinement):
        return ref_attention_refinement(f, s, asr)
    if isinstance(asr, ConcatRefinement):
        return ref_concat_refinement(f, s, asr)
    assert isinstance(asr, AddRefinement) and isinstance(asr.project, nn.Identity)
    return f.double() + s.double()


def randomise_batchnorm(module: nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial running statistics and affine parameters."""
    generator = torch.Generator().manual_seed(seed)
    for bn in module.modules():
        if isinstance(bn, nn.BatchNorm2d):
            size = bn.num_features
            bn.running_mean.copy_(torch.randn(size, generator=generator) * 0.5)
            bn.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            with torch.no_grad():
                bn.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                bn.bias.copy_(torch.randn(size, generator=generator) * 0.2)


def sbc_model(backbone: str = "unet", asr: str = "attention", num_classes: int = 4) -> SBCNet:
    """A width-4 SBCNet in eval mode with randomised BatchNorm statistics."""
    model = build_model({"backbone": backbone, "width": 4, "heads": "sbc", "asr": asr}, num_classes, seed=0)
    assert isinstance(model, SBCNet)
    randomise_batchnorm(model)
    return model.eval()


def close(got: torch.Tensor, expected: torch.Tensor) -> None:
    """float32 module output against a float64 reference."""
    torch.testing.assert_close(got.double(), expected, rtol=1e-4, atol=1e-5)


# -- ASR variants -------------------------------------------------------------------------------
def test_concat_is_one_1x1_conv_over_the_concatenation() -> None:
    torch.manual_seed(0)
    asr = ConcatRefinement(sfp_channels=3, decoder_channels=5)
    layers = [m for m in asr.modules() if m is not asr]
    assert len(layers) == 1 and isinstance(layers[0], nn.Conv2d)
    conv = layers[0]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (8, 5, (1, 1))
    assert conv.bias is not None
    torch.manual_seed(0)
    default = nn.Conv2d(8, 5, kernel_size=1)  # PyTorch's default initialisation
    assert torch.equal(conv.weight, default.weight) and torch.equal(conv.bias, default.bias)
    f, s = torch.randn(2, 5, 6, 7), torch.randn(2, 3, 6, 7)
    with torch.no_grad():
        got = asr(f, s)
    close(got, ref_concat_refinement(f, s, asr))
    # the order is [f_dec, s]: swapping the halves of the weight changes the result
    swapped = torch.cat([s, f], dim=1).double()
    wrong = torch.einsum("oi,bihw->bohw", conv.weight.detach().double()[:, :, 0, 0], swapped)
    assert not torch.allclose(got.double(), wrong + conv.bias.detach().double().view(1, -1, 1, 1))


def test_add_is_the_sum() -> None:
    asr = AddRefinement(sfp_channels=5, decoder_channels=5)
    assert not list(asr.parameters())
    f, s = torch.randn(2, 5, 6, 7), torch.randn(2, 5, 6, 7)
    assert torch.equal(asr(f, s), f + s)


def test_attention_matches_the_hand_computed_formula() -> None:
    torch.manual_seed(0)
    asr = AttentionRefinement(sfp_channels=3, decoder_channels=5)
    randomise_batchnorm(asr)
    asr.eval()
    assert isinstance(asr.branch3[0], nn.Conv2d) and asr.branch3[0].kernel_size == (3, 3)
    assert isinstance(asr.branch1[0], nn.Conv2d) and asr.branch1[0].kernel_size == (1, 1)
    assert isinstance(asr.branch3[1], nn.BatchNorm2d) and isinstance(asr.branch1[1], nn.BatchNorm2d)
    f, s = torch.randn(2, 5, 6, 7), torch.randn(2, 3, 6, 7)
    with torch.no_grad():
        close(asr(f, s), ref_attention_refinement(f, s, asr))


@pytest.mark.parametrize("variant", ["attention", "add", "concat"])
def test_sbcnet_refines_the_decoder_features_with_the_last_disblock(variant: str) -> None:
    """``logits = head(ASR(f_dec, s))`` with ``s`` the last DisBlock's output."""
    model = sbc_model(asr=variant)
    captured: dict[str, torch.Tensor] = {}
    model.sfp.blocks[-1].register_forward_hook(lambda m, i, o: captured.__setitem__("s", o))
    model.backbone.register_forward_hook(lambda m, i, o: captured.__setitem__("f", o.decoder))
    x = torch.randn(2, 1, 32, 48)
    with torch.no_grad():
        out = model(x)
    assert model.asr is not None and isinstance(model.head, nn.Conv2d)
    refined = ref_refinement(captured["f"], captured["s"], model.asr)
    head_weight = model.head.weight.detach().double()[:, :, 0, 0]
    logits = torch.einsum("oi,bihw->bohw", head_weight, refined) + model.head.bias.detach().double().view(
        1, -1, 1, 1
    )
    close(out.logits, logits)


def test_none_gives_the_coarse_logits() -> None:
    model = sbc_model(asr="none")
    assert model.asr is None and model.head is None
    with torch.no_grad():
        out = model(torch.randn(2, 1, 32, 32))
    assert torch.equal(out.logits, out.coarse_logits)
    assert out.head_features is not None
    weight = model.coarse_head.weight.detach().double()[:, :, 0, 0]
    coarse = torch.einsum("oi,bihw->bohw", weight, out.head_features.double())
    close(out.coarse_logits, coarse + model.coarse_head.bias.detach().double().view(1, -1, 1, 1))


# -- SFP ----------------------------------------------------------------------------------------
def ref_conv_bn_relu(x: torch.Tensor, block: nn.Sequential) -> torch.Tensor:
    """conv3x3 -> eval BatchNorm -> ReLU, by hand."""
    conv, bn, relu = block
    assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 3) and conv.padding == (1, 1)
    assert isinstance(bn, nn.BatchNorm2d) and isinstance(relu, nn.ReLU)
    return ref_batchnorm(ref_conv(x, conv), bn).clamp_min(0.0)


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("num_classes", [2, 4])
def test_sfp_cascade_and_distance_head(backbone: str, num_classes: int) -> None:
    """Four DisBlocks, deep to shallow, each [up(previous), encoder level k] -> (conv-BN-ReLU) x2;
    then a 1x1 conv + sigmoid with C maps (the default model.distance_classes = "all") in [0, 1]."""
    model = sbc_model(backbone, num_classes=num_classes)
    channels = list(model.backbone.encoder_channels)
    captured: dict[str, object] = {}
    model.backbone.register_forward_hook(lambda m, i, o: captured.__setitem__("encoder", o.encoder))
    blocks = list(model.sfp.blocks)
    assert len(blocks) == 4 and all(isinstance(b, DisBlock) for b in blocks)
    for n, block in enumerate(blocks):
        block.register_forward_hook(lambda m, i, o, n=n: captured.__setitem__(f"block{n}", (i, o)))
        block.convs.register_forward_hook(lambda m, i, o, n=n: captured.__setitem__(f"convs{n}", i[0]))
    model.sfp.head.register_forward_hook(lambda m, i, o: captured.__setitem__("head", (i[0], o)))
    with torch.no_grad():
        out = model(torch.randn(2, 1, 32, 48))
    encoder = captured["encoder"]
    assert isinstance(encoder, list) and len(encoder) == 5
    previous = encoder[4]  # the bottleneck feeds the first DisBlock
    for n, level in enumerate([3, 2, 1, 0]):
        (deep, skip), output = captured[f"block{n}"]
        assert deep is previous and skip is encoder[level]
        stacked = captured[f"convs{n}"]
        upsampled = F.interpolate(
            previous, size=encoder[level].shape[-2:], mode="bilinear", align_corners=False
        )
        assert stacked.shape == (2, previous.shape[1] + channels[level], *encoder[level].shape[-2:])
        torch.testing.assert_close(stacked, torch.cat([upsampled, encoder[level]], dim=1))
        first, second = blocks[n].convs
        assert first[0].in_channels == previous.shape[1] + channels[level]
        assert first[0].out_channels == second[0].in_channels == second[0].out_channels == channels[level]
        assert len(blocks[n].convs) == 2
        close(output, ref_conv_bn_relu(ref_conv_bn_relu(stacked, first), second))
        assert output.shape == (2, channels[level], *encoder[level].shape[-2:])
        previous = output
    head = model.sfp.head
    assert isinstance(head, nn.Conv2d) and head.kernel_size == (1, 1)
    assert (head.in_channels, head.out_channels) == (channels[0], num_classes)
    head_input, _ = captured["head"]
    assert head_input is previous  # the last DisBlock
    weight = head.weight.detach().double()[:, :, 0, 0]
    z = torch.einsum("oi,bihw->bohw", weight, previous.double()) + head.bias.detach().double().view(
        1, -1, 1, 1
    )
    assert out.distance is not None and out.distance.shape == (2, num_classes, 32, 48)
    close(out.distance, 1.0 / (1.0 + torch.exp(-z)))
    assert ((out.distance >= 0) & (out.distance <= 1)).all()
