"""The equations of docs/bptt.md that a learner writes: each label with its line on that page and
one sentence on what the line should compute (what ``tinyrnn check`` prints when it is broken).

tests/test_exercises.py holds every ``line`` equal to a line of docs/bptt.md.
"""

from __future__ import annotations

# label -> (the line of docs/bptt.md (two for (L8)), what it should compute)
EQUATIONS: dict[str, tuple[str, str]] = {
    "1": (
        "a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh        (1)",
        "the pre-activation is x W_ih^T + h W_hh^T plus both biases (each weight transposed, h the previous state)",
    ),
    "2": (
        "h_t = act(a_t)                                          (2)",
        "h_next is the nonlinearity asked for (tanh, relu, sigmoid or identity) applied to the pre-activation",
    ),
    "3": (
        "da_t = dh_t * act'(a_t)                                               (3)",
        "da = dh_next * act'(a), the derivative read from the output: 1 - h_next² for tanh, "
        "h_next (1 - h_next) for sigmoid, [h_next > 0] for relu, 1 for identity",
    ),
    "4": (
        "dh_t = dy_t + da_{t+1} W_hh          (with da_{T+1} W_hh := dh_n)     (4)",
        "the gradient of the previous state is da W_hh (no transpose: W_hh is (H, H) in PyTorch's layout)",
    ),
    "5": (
        "dW_hh = Σ_t da_t^T h_{t-1}                                           (5)",
        "dW_hh = da^T h with h the PREVIOUS state (the input of the step), not h_next",
    ),
    "6": (
        "dW_ih = Σ_t da_t^T x_t                                               (6)",
        "dW_ih = da^T x, shape (H, I) like weight_ih",
    ),
    "7": (
        "db_ih = db_hh = Σ_t Σ_batch da_t                                     (7)",
        "both bias gradients are da summed over the batch, shape (H,)",
    ),
    "8": ("dx_t  = da_t W_ih          (8)   one product, RecurrentBase.backward", "dx = da W_ih (no transpose)"),
    "L1": (
        "[a_i, a_f, a_g, a_o] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh          (L1)",
        "the four pre-activations are x W_ih^T + h W_hh^T plus both biases, split in PyTorch's gate order i, f, g, o",
    ),
    "L2": (
        "i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)                       (L2)",
        "i, f, o are sigmoids and g a tanh, each of ITS OWN pre-activation block (order i, f, g, o)",
    ),
    "L3": (
        "c_t = f * c_{t-1} + i * g                                                  (L3)",
        "c_next = f * c + i * g: the forget gate scales the previous cell, the input gate the candidate",
    ),
    "L4": (
        "m_t = o * tanh(c_t)                                                        (L4)",
        "h_next = o * tanh(c_next), the NEW cell state squashed by tanh",
    ),
    "L6": (
        "dm_t  = dh_t W_hr   (projection)   or   dh_t                               (L6)",
        "without a projection the gradient of m_t is dh_next itself",
    ),
    "L7": (
        "dc_t += dm_t * o * (1 - tanh²(c_t))                                        (L7)  through (L4)",
        "the total cell gradient is dc_next PLUS dh_next * o * (1 - tanh²(c_next))",
    ),
    "L8": (
        "da_i = dc_t * g * i(1 - i)          da_f = dc_t * c_{t-1} * f(1 - f)\n"
        "    da_g = dc_t * i * (1 - g²)          da_o = dm_t * tanh(c_t) * o(1 - o)     (L8)",
        "da_i = dc_t g i(1-i), da_f = dc_t c_prev f(1-f), da_g = dc_t i (1-g²), "
        "da_o = dh_next tanh(c_next) o(1-o), concatenated in the order i, f, g, o",
    ),
    "L9": (
        "dc_{t-1} = dc_t * f                 dh_{t-1} = [da_i, da_f, da_g, da_o] W_hh   (L9)",
        "dc = dc_t * f and dh = da W_hh with da the four gate gradients in the order i, f, g, o",
    ),
    "L10": (
        "dW_ih = Σ_t da_t^T x_t            db_ih = db_hh = Σ_t da_t",
        "dW_ih = da^T x, dW_hh = da^T h (the previous state), both bias gradients da summed "
        "over the batch, dx = da W_ih",
    ),
    "G1": (
        "r = σ(x_r + h_r)       z = σ(x_z + h_z)                                   (G1)",
        "r and z are sigmoids of x W_ih^T + b_ih plus h W_hh^T + b_hh, rows r then z",
    ),
    "G2": (
        "n = tanh(x_n + r * h_n)                                                   (G2)",
        "n = tanh(x_n + r * h_n) where h_n = h W_hn^T + b_hn: the reset gate multiplies the "
        "whole recurrent term, its bias included, and not x_n",
    ),
    "G3": (
        "h_t = (1 - z) * n + z * h_{t-1}                                           (G3)",
        "h_next = (1 - z) * n + z * h: z keeps the OLD state, 1 - z takes the candidate (PyTorch's convention)",
    ),
    "G4": (
        "da_n = dh_t * (1 - z) * (1 - n²)                 gradient of x_n (through (G3), (G2))  (G4)",
        "da_n = dh_next (1 - z) (1 - n²)",
    ),
    "G5": (
        "da_z = dh_t * (h_{t-1} - n) * z(1 - z)           (G3) is n + z (h_{t-1} - n)            (G5)",
        "da_r = da_n h_n r(1-r) with h_n = h W_hn^T + b_hn, and da_z = dh_next (h - n) z(1-z)",
    ),
    "G6": (
        "dh_{t-1} = dh_t * z + [da_r, da_z, da_n * r] W_hh                                      (G6)",
        "dh = dh_next * z + [da_r, da_z, da_n * r] W_hh: the direct path through z plus the recurrent product",
    ),
    "G7": (
        "dW_hh = Σ_t [da_r, da_z, da_n * r]^T h_{t-1}     db_hh = Σ_t [da_r, da_z, da_n * r]    (G7)",
        "the recurrent side gets [da_r, da_z, da_n * r]: dW_hh = that^T h, db_hh = that summed over the batch",
    ),
    "G8": (
        "dW_ih = Σ_t [da_r, da_z, da_n]^T x_t             db_ih = Σ_t [da_r, da_z, da_n]        (G8)",
        "the input side gets [da_r, da_z, da_n] (no r on n): dW_ih = that^T x, db_ih = that "
        "summed over the batch, dx = that W_ih",
    ),
}

# each function: the equations it writes, in the order of docs/bptt.md
FUNCTION_EQUATIONS: dict[str, tuple[str, ...]] = {
    "rnn_step": ("1", "2"),
    "rnn_step_backward": ("3", "4", "5", "6", "7", "8"),
    "lstm_step": ("L1", "L2", "L3", "L4"),
    "lstm_step_backward": ("L6", "L7", "L8", "L9", "L10"),
    "gru_step": ("G1", "G2", "G3"),
    "gru_step_backward": ("G4", "G5", "G6", "G7", "G8"),
}
