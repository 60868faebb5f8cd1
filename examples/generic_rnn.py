"""The generic RNN class tutorial (Wxh, Whh, Why, bh, by), on tinyrnn's layers, with full BPTT.

Many-to-many regression: x = [[1,2,3],[4,5,6],[7,8,9],[10,11,12]] (4 steps, 3 features) onto
y = [[0,1],[1,0],[0,1],[1,0]], tanh hidden units, gradients clipped to [-5, 5].

The tutorial back-propagated only through the last step; here every step's output carries a
loss and BPTT reaches every step. In tinyrnn's names: Wxh = rnn.weight_ih_l0,
Whh = rnn.weight_hh_l0, bh = bias_ih_l0 + bias_hh_l0, Why = head.weight, by = head.bias.

    python examples/generic_rnn.py
"""

import numpy as np

import tinyrnn as tr

x = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]], dtype=np.float64)[:, None, :]  # (T, B=1, 3)
y = np.array([[0, 1], [1, 0], [0, 1], [1, 0]], dtype=np.float64)[:, None, :]  # (T, B=1, 2)

rng = np.random.default_rng(0)
rnn = tr.RNN(3, 16, nonlinearity="tanh", dtype=np.float64, rng=rng)
head = tr.Linear(16, 2, dtype=np.float64, rng=rng)
params = rnn.parameters() + head.parameters()
opt = tr.SGD(params, lr=0.01)

for it in range(1, 1001):
    h, _, rnn_cache = rnn.forward(x)  # h: (T, 1, 16), every step's state
    out, head_cache = head.forward(h)  # (T, 1, 2)
    loss, dout = tr.mse_loss(out, y, reduction="sum")
    for p in params:
        p.grad.fill(0)
    rnn.backward(head.backward(dout, head_cache), rnn_cache)  # full BPTT through all 4 steps
    tr.clip_grad_value_(params, 5.0)  # clip to [-5, 5], as the tutorial does
    opt.step()
    if it % 100 == 0:
        print(f"iteration {it:4d}  loss {loss:.6f}")

print("prediction:", np.round(head(rnn(x)[0])[:, 0], 3).tolist())
