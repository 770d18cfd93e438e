"""Layer norm: autograd and manual-backward versions against torch, gradcheck, errors."""

import pytest
import torch
import torch.nn.functional as F

from neuralab.models.layernorm import (
    CustomLayerNormManualModule,
    LayerNormFunction,
    LayerNormModule,
    gradcheck_rows,
)
from neuralab.models.shapes import ShapeError


def inputs(s=8, m=16, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = 2 * torch.randn(s, m, generator=gen, dtype=dtype) + 10
    gamma = torch.rand(m, generator=gen, dtype=dtype) + 0.5
    beta = torch.randn(m, generator=gen, dtype=dtype)
    return x, gamma, beta


@pytest.mark.parametrize("cls", [LayerNormModule, CustomLayerNormManualModule])
def test_modules_match_torch_layer_norm(cls):
    x, gamma, beta = inputs()
    module = cls(16).double()
    with torch.no_grad():
        module.gamma.copy_(gamma)
        module.beta.copy_(beta)
    expected = F.layer_norm(x, (16,), gamma, beta, eps=1e-5)
    torch.testing.assert_close(module(x), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("cls", [LayerNormModule, CustomLayerNormManualModule])
def test_parameters_start_at_gamma_one_beta_zero_and_output_is_normalised(cls):
    module = cls(32)
    assert torch.equal(module.gamma.data, torch.ones(32))
    assert torch.equal(module.beta.data, torch.zeros(32))
    assert {n for n, _ in module.named_parameters()} == {"gamma", "beta"}
    out = module(3 * torch.randn(4, 32) + 7)
    torch.testing.assert_close(out.mean(1), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(1, unbiased=False), torch.ones(4), atol=1e-3, rtol=0)


def test_manual_module_accepts_leading_dimensions():
    x = torch.randn(2, 3, 5)
    out = CustomLayerNormManualModule(5)(x)
    torch.testing.assert_close(out, F.layer_norm(x, (5,)), atol=1e-6, rtol=0)


def test_function_gradients_match_autograd_of_torch_layer_norm():
    x, gamma, beta = (t.requires_grad_() for t in inputs())
    grad_out = torch.randn(8, 16, dtype=torch.float64)
    LayerNormFunction.apply(x, gamma, beta, 1e-5).backward(grad_out)
    ours = [t.grad.clone() for t in (x, gamma, beta)]
    for t in (x, gamma, beta):
        t.grad = None
    F.layer_norm(x, (16,), gamma, beta, eps=1e-5).backward(grad_out)
    for a, b in zip(ours, (x.grad, gamma.grad, beta.grad), strict=True):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-7)


def test_function_and_module_pass_gradcheck_in_float64():
    x, gamma, beta = (t.requires_grad_() for t in inputs(s=4, m=6))
    assert torch.autograd.gradcheck(
        lambda a, b, c: LayerNormFunction.apply(a, b, c, 1e-5), (x, gamma, beta)
    )
    module = LayerNormModule(6).double()
    assert torch.autograd.gradcheck(module, (x,))
    assert torch.autograd.gradcheck(CustomLayerNormManualModule(6).double(), (x,))


def test_function_returns_none_for_inputs_that_need_no_gradient():
    x, gamma, beta = inputs(s=3, m=4)
    seen = {}

    class Spy(LayerNormFunction):
        @staticmethod
        def backward(ctx, grad_output):
            grads = LayerNormFunction.backward(ctx, grad_output)
            seen["grads"] = grads
            seen["saved"] = ctx.saved_tensors
            return grads

    x.requires_grad_()  # gamma and beta are constants here
    Spy.apply(x, gamma, beta, 1e-5).sum().backward()
    grad_x, grad_gamma, grad_beta, grad_eps = seen["grads"]
    assert grad_x is not None and grad_x.shape == (3, 4)
    assert grad_gamma is None and grad_beta is None and grad_eps is None

    x = x.detach()
    gamma.requires_grad_()
    Spy.apply(x, gamma, beta, 1e-5).sum().backward()
    grad_x, grad_gamma, grad_beta, _ = seen["grads"]
    assert grad_x is None and grad_beta is None and grad_gamma.shape == (4,)
    # Only x_hat is needed for dgamma: inverse std and gamma are not kept.
    x_hat, inv_std, saved_gamma = seen["saved"]
    assert x_hat.shape == (3, 4) and inv_std is None and saved_gamma is None


def test_function_saves_only_xhat_inv_std_and_gamma():
    x, gamma, beta = (t.requires_grad_() for t in inputs(s=3, m=4))
    out = LayerNormFunction.apply(x, gamma, beta, 1e-5)
    x_hat, inv_std, saved_gamma = out.grad_fn.saved_tensors
    assert x_hat.shape == (3, 4) and inv_std.shape == (3, 1)
    assert saved_gamma is gamma or torch.equal(saved_gamma, gamma)


def test_wrong_shapes_raise_a_clear_error():
    with pytest.raises(ShapeError, match=r"\[\.\.\., 8\].*got \(4, 7\)"):
        LayerNormModule(8)(torch.randn(4, 7))
    with pytest.raises(ShapeError, match="n_neurons=8"):
        CustomLayerNormManualModule(8)(torch.randn(4, 7))
    with pytest.raises(ShapeError, match="2-D input"):
        LayerNormFunction.apply(torch.randn(2, 3, 4), torch.ones(4), torch.zeros(4), 1e-5)
    with pytest.raises(ValueError):  # ShapeError is also a ValueError
        LayerNormModule(3)(torch.randn(2, 2))


def test_gradcheck_rows_report_tiny_errors_in_the_scratch_table_format():
    rows = gradcheck_rows()
    assert [(r["name"], r["tensor"]) for r in rows] == [
        (impl, tensor)
        for impl in ("LayerNormModule", "LayerNormFunction")
        for tensor in ("x", "gamma", "beta")
    ]
    assert [r["size"] for r in rows] == [24, 6, 6] * 2
    for row in rows:
        assert row["passed"] is True
        assert row["checked"] == row["size"]
        assert row["rel_error"] < 1e-8
        assert row["max_elem_error"] < 1e-7
        assert row["max_abs_error"] < 1e-8


def test_gradcheck_rows_catch_a_wrong_backward(monkeypatch):
    correct_backward = LayerNormFunction.backward

    def broken_backward(ctx, grad_output):
        grads = list(correct_backward(ctx, grad_output))
        grads[0] = grads[0] * 1.01 if grads[0] is not None else None
        return tuple(grads)

    monkeypatch.setattr(LayerNormFunction, "backward", staticmethod(broken_backward))
    rows = {(r["name"], r["tensor"]): r for r in gradcheck_rows()}
    assert not rows["LayerNormFunction", "x"]["passed"]
    assert rows["LayerNormFunction", "x"]["rel_error"] > 1e-3
    assert rows["LayerNormModule", "x"]["passed"]


def test_function_without_eps_uses_the_default_1e_5_forward_and_backward():
    x, gamma, beta = (t.requires_grad_() for t in inputs(s=5, m=7))
    grad_out = torch.randn(5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    out = LayerNormFunction.apply(x, gamma, beta)  # the handouts' tests call it this way
    out.backward(grad_out)
    ours = [t.grad.clone() for t in (x, gamma, beta)]
    for t in (x, gamma, beta):
        t.grad = None
    expected = F.layer_norm(x, (7,), gamma, beta, eps=1e-5)
    expected.backward(grad_out)
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)
    for a, b in zip(ours, (x.grad, gamma.grad, beta.grad), strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)
    torch.testing.assert_close(out, LayerNormFunction.apply(x, gamma, beta, 1e-5), atol=0, rtol=0)


@pytest.mark.parametrize("eps_args", [(), (1e-5,), (0.5,)], ids=["no-eps", "eps=1e-5",
                                                                 "eps=0.5"])
def test_gradcheck_in_float64_with_and_without_eps(eps_args):
    x, gamma, beta = (t.requires_grad_() for t in inputs(s=4, m=6))
    assert torch.autograd.gradcheck(LayerNormFunction.apply, (x, gamma, beta, *eps_args))
    # gamma and beta as constants: only the x gradient is computed and checked
    assert torch.autograd.gradcheck(
        lambda a: LayerNormFunction.apply(a, gamma.detach(), beta.detach(), *eps_args), (x,)
    )


def test_backward_returns_one_gradient_per_argument_passed():
    x, gamma, beta = (t.requires_grad_() for t in inputs(s=3, m=4))
    counts = []

    class Spy(LayerNormFunction):
        @staticmethod
        def backward(ctx, grad_output):
            grads = LayerNormFunction.backward(ctx, grad_output)
            counts.append(len(grads))
            return grads

    Spy.apply(x, gamma, beta).sum().backward()
    Spy.apply(x, gamma, beta, 1e-3).sum().backward()
    assert counts == [3, 4]


def test_larger_eps_shrinks_the_output_as_the_formula_says():
    x, gamma, beta = inputs(s=3, m=5)
    ones, zeros = torch.ones(5, dtype=x.dtype), torch.zeros(5, dtype=x.dtype)
    var = x.var(dim=1, unbiased=False, keepdim=True)
    out = LayerNormFunction.apply(x, ones, zeros, 2.0)
    torch.testing.assert_close(out, (x - x.mean(1, keepdim=True)) / torch.sqrt(var + 2.0))
