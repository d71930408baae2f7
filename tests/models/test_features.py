"""``ModelOutput.features`` (pooled bottleneck) and ``head_features`` for every backbone and heads."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from alstrategies.models import build_model
from alstrategies.types import ModelOutput

BACKBONES = ["unet", "unetpp", "attention_unet"]
HEADS = [("plain", "attention"), ("sbc", "attention"), ("sbc", "add"), ("sbc", "concat"), ("sbc", "none")]
WIDTH = 4


def model_for(backbone: str, heads: str, asr: str) -> nn.Module:
    config = {"backbone": backbone, "width": WIDTH, "heads": heads, "asr": asr}
    return build_model(config, num_classes=3, seed=0).eval()


def randomise_batchnorm(model: nn.Module) -> None:
    """Non-trivial running statistics, so that eval mode is not the identity."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize(("heads", "asr"), HEADS)
def test_features_are_the_pooled_bottleneck(backbone: str, heads: str, asr: str) -> None:
    model = model_for(backbone, heads, asr)
    randomise_batchnorm(model)
    captured: dict[str, torch.Tensor] = {}
    model.backbone.encoder.register_forward_hook(lambda m, i, o: captured.__setitem__("deep", o[-1]))
    x = torch.randn(2, 1, 32, 48)
    with torch.no_grad():
        out = model(x)
    assert isinstance(out, ModelOutput)
    assert out.features is not None and out.features.dtype == torch.float32
    assert out.features.shape == (2, 16 * WIDTH)
    deep = captured["deep"]
    assert deep.shape == (2, 16 * WIDTH, 2, 3)
    reference = torch.stack(
        [
            torch.stack([deep[b, d].double().sum() / deep[b, d].numel() for d in range(deep.shape[1])])
            for b in range(2)
        ]
    )
    torch.testing.assert_close(out.features.double(), reference, rtol=1e-6, atol=1e-6)
    # each image's embedding is its own (eval mode): one image alone gives the same row
    with torch.no_grad():
        alone = model(x[1:]).features
    torch.testing.assert_close(alone, out.features[1:], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize(("heads", "asr"), HEADS)
def test_logits_are_the_final_head_of_the_head_features(backbone: str, heads: str, asr: str) -> None:
    model = model_for(backbone, heads, asr)
    randomise_batchnorm(model)
    head = model.final_head()
    assert isinstance(head, nn.Conv2d) and head.kernel_size == (1, 1)
    assert head.out_channels == 3
    with torch.no_grad():
        out = model(torch.randn(2, 1, 32, 48))
    assert out.head_features is not None
    assert out.head_features.shape == (2, head.in_channels, 32, 48)
    assert torch.equal(out.logits, F.conv2d(out.head_features, head.weight, head.bias))
    # and by hand, in float64: sum_i W[o, i] * f[b, i, h, w] + bias[o]
    weight, bias = head.weight.double()[:, :, 0, 0], head.bias.double()
    features = out.head_features.double()
    by_hand = torch.zeros_like(out.logits, dtype=torch.float64)
    for o in range(weight.shape[0]):
        by_hand[:, o] = bias[o] + sum(weight[o, i] * features[:, i] for i in range(weight.shape[1]))
    torch.testing.assert_close(out.logits.double(), by_hand, rtol=1e-6, atol=1e-6)


def test_which_head_is_final() -> None:
    plain = model_for("unet", "plain", "attention")
    assert plain.final_head() is plain.head
    sbc = model_for("unet", "sbc", "attention")
    assert sbc.final_head() is sbc.head and sbc.final_head() is not sbc.coarse_head
    none = model_for("unet", "sbc", "none")
    assert none.final_head() is none.coarse_head


@pytest.mark.parametrize("asr", ["attention", "none"])
def test_sbc_head_features_are_the_refined_decoder_features(asr: str) -> None:
    """SBCNet: ``head_features = ASR(f_dec, s)``; with ``asr = "none"`` they are ``f_dec``."""
    model = model_for("unet", "sbc", asr)
    captured: dict[str, torch.Tensor] = {}
    model.backbone.register_forward_hook(lambda m, i, o: captured.__setitem__("dec", o.decoder))
    model.sfp.blocks[-1].register_forward_hook(lambda m, i, o: captured.__setitem__("s", o))
    with torch.no_grad():
        out = model(torch.randn(1, 1, 32, 32))
        if asr == "none":
            assert out.head_features is captured["dec"]
        else:
            assert torch.equal(out.head_features, model.asr(captured["dec"], captured["s"]))


def test_plain_features_are_free_of_the_logits() -> None:
    """Filling the features leaves the logits as they were: the head of the decoder output."""
    model = model_for("unetpp", "plain", "attention")
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        out = model(x)
        expected = model.head(model.backbone(x).decoder)
    assert torch.equal(out.logits, expected) and out.coarse_logits is out.logits


def test_features_are_float32_under_bf16_autocast() -> None:
    """Under autocast the bottleneck is bf16; the pooled features come back as float32."""
    model = model_for("unet", "sbc", "attention")
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.randn(2, 1, 32, 32))
    assert out.features is not None and out.features.dtype == torch.float32
    head = model.final_head()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        again = F.conv2d(out.head_features, head.weight, head.bias)
    assert torch.equal(out.logits, again)
