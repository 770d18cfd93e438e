"""Recurrent models from scratch: no high-level modules, shapes, gradients, palindromes."""

import time

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from neuralab.models.rnn import LSTM, VanillaRNN
from neuralab.models.shapes import ShapeError

FORBIDDEN = (nn.RNN, nn.RNNCell, nn.LSTM, nn.LSTMCell, nn.GRU, nn.GRUCell, nn.Linear,
             nn.RNNBase)  # fmt: skip
MODELS = [VanillaRNN, LSTM]


def palindromes(n: int, length: int, gen: torch.Generator):
    """``n`` random palindromes of ``length`` digits: (first length-1 digits, last digit)."""
    half = torch.randint(0, 10, (n, (length + 1) // 2), generator=gen)
    full = torch.cat([half, half[:, : length // 2].flip(1)], dim=1)
    assert torch.equal(full, full.flip(1))
    return full[:, :-1], full[:, -1]


@pytest.mark.parametrize("cls", MODELS)
def test_no_high_level_recurrent_or_linear_modules(cls):
    model = cls(seq_length=5, input_dim=10, num_hidden=8, num_classes=10)
    assert list(model.children()) == []
    assert not any(isinstance(m, FORBIDDEN) for m in model.modules())
    assert all(isinstance(p, nn.Parameter) for p in model.parameters())


def test_vanilla_rnn_parameters_and_count():
    model = VanillaRNN(seq_length=5, input_dim=10, num_hidden=8, num_classes=10)
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    assert shapes == {"W_hx": (8, 10), "W_hh": (8, 8), "b_h": (8,), "W_ph": (10, 8),
                      "b_p": (10,)}  # fmt: skip
    # H*D + H*H + H + C*H + C = 80 + 64 + 8 + 80 + 10
    assert sum(p.numel() for p in model.parameters()) == 242


def test_lstm_parameters_count_and_forget_bias():
    model = LSTM(seq_length=5, input_dim=10, num_hidden=8, num_classes=10)
    names = {n for n, _ in model.named_parameters()}
    for gate in "gifo":
        assert {f"W_{gate}x", f"W_{gate}h", f"b_{gate}"} <= names
    # 4 gates * (H*D + H*H + H) + C*H + C = 4 * (80 + 64 + 8) + 80 + 10
    assert sum(p.numel() for p in model.parameters()) == 698
    assert torch.equal(model.b_f.data, torch.ones(8))
    assert torch.equal(model.b_i.data, torch.zeros(8))


def test_vanilla_rnn_matches_the_recurrence_written_out():
    torch.manual_seed(0)
    model = VanillaRNN(seq_length=3, input_dim=2, num_hidden=4, num_classes=3)
    with torch.no_grad():
        model.b_h.normal_()
    x = torch.randn(5, 3, 2)
    h = torch.zeros(5, 4)
    for t in range(3):
        h = torch.tanh(x[:, t] @ model.W_hx.T + h @ model.W_hh.T + model.b_h)
    torch.testing.assert_close(model(x), h @ model.W_ph.T + model.b_p)


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize(
    "input_dim,x",
    [(1, torch.randint(0, 10, (6, 4)).float()),  # scalar digits [B, T]
     (1, torch.randn(6, 4, 1)),  # [B, T, 1]
     (10, torch.randint(0, 10, (6, 4))),  # integer digits, one-hot inside
     (10, torch.randn(6, 4, 10))],
)  # fmt: skip
def test_output_and_hidden_shapes(cls, input_dim, x):
    model = cls(seq_length=4, input_dim=input_dim, num_hidden=16, num_classes=10)
    assert model(x).shape == (6, 10)
    logits, hidden = model(x, return_hidden=True)
    assert logits.shape == (6, 10)
    assert len(hidden) == 4 and all(h.shape == (6, 16) for h in hidden)


def test_integer_digits_are_one_hot_encoded():
    model = LSTM(seq_length=3, input_dim=10, num_hidden=4, num_classes=10)
    digits = torch.tensor([[3, 1, 4]])
    one_hot = nn.functional.one_hot(digits, 10).float()
    torch.testing.assert_close(model(digits), model(one_hot))


@pytest.mark.parametrize("cls", MODELS)
def test_wrong_input_width_raises(cls):
    model = cls(seq_length=4, input_dim=10, num_hidden=8, num_classes=10)
    with pytest.raises(ShapeError, match=r"\[B, T, 10\]"):
        model(torch.randn(2, 4, 3))


@pytest.mark.parametrize("cls", MODELS)
def test_gradient_reaches_every_parameter_and_every_hidden_state(cls):
    torch.manual_seed(0)
    model = cls(seq_length=6, input_dim=10, num_hidden=16, num_classes=10)
    x, y = palindromes(32, 7, torch.Generator().manual_seed(0))
    logits, hidden = model(x, return_hidden=True)
    nn.functional.cross_entropy(logits, y).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    norms = [h.grad.norm().item() for h in hidden]
    assert len(norms) == 6 and all(n > 0 for n in norms)


def test_vanilla_rnn_hidden_gradients_obey_backprop_through_time():
    """dL/dh_{t-1} = W_hh^T (dL/dh_t * (1 - h_t^2)): the factor behind vanishing gradients."""
    torch.manual_seed(0)
    model = VanillaRNN(seq_length=6, input_dim=10, num_hidden=16, num_classes=10).double()
    x, y = palindromes(8, 7, torch.Generator().manual_seed(0))
    logits, hidden = model(x, return_hidden=True)
    nn.functional.cross_entropy(logits, y).backward()
    for t in range(5, 0, -1):
        h, g = hidden[t].detach(), hidden[t].grad
        torch.testing.assert_close(hidden[t - 1].grad, (g * (1 - h**2)) @ model.W_hh.detach())


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("init", ["kaiming_normal", "uniform", "normal"])
def test_init_schemes(cls, init):
    torch.manual_seed(0)
    model = cls(seq_length=5, input_dim=1, num_hidden=128, num_classes=10, init=init)
    w_hh = model.W_hh if cls is VanillaRNN else model.W_fh
    expected_std = {"kaiming_normal": (2 / 128) ** 0.5, "uniform": (1 / 128) ** 0.5 / 3 ** 0.5,
                    "normal": 0.01}[init]  # fmt: skip
    assert w_hh.std().item() == pytest.approx(expected_std, rel=0.05)


@pytest.mark.parametrize("init, radius", [("kaiming_normal", 2 ** 0.5), ("uniform", 3 ** -0.5)])
def test_recurrent_spectral_radius_follows_the_circular_law(init, radius):
    """An H x H matrix of i.i.d. entries with variance s^2 has its eigenvalues spread over a
    disc of radius sqrt(H) s: Kaiming's sqrt(2) (a chaotic tanh RNN) against the uniform
    init's 1/sqrt(3) (the palindrome-sweep-uniform variant's motivation)."""
    torch.manual_seed(0)
    w_hh = VanillaRNN(seq_length=5, input_dim=1, num_hidden=512, num_classes=10,
                      init=init).W_hh.detach().double()
    assert torch.linalg.eigvals(w_hh).abs().max().item() == pytest.approx(radius, rel=0.1)


@pytest.mark.parametrize("cls", MODELS)
def test_learns_length_5_palindromes(cls):
    """The handout's sanity check: near-perfect accuracy at T=5 with the default settings
    (RMSprop 1e-3, batch 128, 128 hidden, grad-norm clip 10, scalar digit inputs).
    Measured on 2 CPU cores: VanillaRNN reaches >= 0.99 after ~900 steps (~2 s), LSTM after
    ~600 steps (~2 s)."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: one thread is fastest and immune to contention
    try:
        accuracy, step, seconds = _train_palindromes(cls, gen)
    finally:
        torch.set_num_threads(threads)
    assert accuracy >= 0.99, f"accuracy {accuracy:.3f} after {step} steps"
    assert seconds < 20


def _train_palindromes(cls, gen):
    model = cls(seq_length=4, input_dim=1, num_hidden=128, num_classes=10)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    x_test, y_test = palindromes(2000, 5, gen)
    accuracy, start = 0.0, time.perf_counter()
    for step in range(1, 2001):
        x, y = palindromes(128, 5, gen)
        loss = nn.functional.cross_entropy(model(x.float()), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
        opt.step()
        if step % 100 == 0:
            with torch.no_grad():
                accuracy = (model(x_test.float()).argmax(1) == y_test).float().mean().item()
            if accuracy >= 0.99:
                break
    return accuracy, step, time.perf_counter() - start


class _ElementsWritten(TorchDispatchMode):
    """Counts the elements of every tensor an op returns: the memory traffic of a pass."""

    def __init__(self):
        super().__init__()
        self.elements = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in torch.utils._pytree.tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self.elements += t.numel()
        return out


def _backward_elements(cls, steps: int) -> int:
    torch.manual_seed(0)
    model = cls(seq_length=steps, input_dim=1, num_hidden=16, num_classes=10)
    x, y = torch.randn(8, steps), torch.randint(0, 10, (8,))
    loss = nn.functional.cross_entropy(model(x), y)
    with _ElementsWritten() as counter:
        loss.backward()
    return counter.elements


@pytest.mark.parametrize("cls", MODELS)
def test_backward_work_grows_linearly_with_sequence_length(cls):
    # Slicing the precomputed input terms per step (x_proj[:, t]) made every step's backward
    # write a zero tensor of the whole [B, T, H] sequence: quadratic in T (2.3x slower LSTM
    # training at T=40). Each step's backward must write O(B * H) elements, not O(B * T * H).
    short, long = _backward_elements(cls, 10), _backward_elements(cls, 80)
    assert long / short < 8 * 1.25  # linear: ~8x the elements for 8x the steps; quadratic: ~40x
