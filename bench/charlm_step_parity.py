"""Per step, is tinyrnn's char-LM training the same as torch's? (Speed aside.)

Trains the bench/charlm_vs_torch.py architecture (Embedding 64 -> LSTM 256 -> Linear, Adam 2e-3,
clip 5, 32 streams of 64 characters) with both libraries from the SAME initial weights on the
SAME batches, in float32, and prints the mean training loss of each library over blocks of
steps. tests/test_charlm.py checks the same thing in float64 on a tiny model to 1e-9.

    python bench/charlm_step_parity.py --steps 400
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--blocks", type=int, default=8)
    args = ap.parse_args()
    import torch
    from tinyrnn import Adam, clip_grad_norm_, cross_entropy
    from tinyrnn.demos.charlm import CharLMConfig, Streams, prepare
    from tinyrnn.models.charlm import CharLM

    vocab, train_ids, _, _ = prepare(CharLMConfig(files=[]))
    V = len(vocab)
    model = CharLM(V, 64, 256, "lstm", rng=np.random.default_rng(0))
    opt = Adam(model.parameters(), lr=2e-3)
    embed, lstm, head = torch.nn.Embedding(V, 64), torch.nn.LSTM(64, 256), torch.nn.Linear(256, V)
    sd = model.state_dict()
    with torch.no_grad():
        embed.weight.copy_(torch.from_numpy(sd["embed.weight"]))
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(lstm, name).copy_(torch.from_numpy(sd["rnn." + name]))
        head.weight.copy_(torch.from_numpy(sd["head.weight"]))
        head.bias.copy_(torch.from_numpy(sd["head.bias"]))
    params = [*embed.parameters(), *lstm.parameters(), *head.parameters()]
    topt = torch.optim.Adam(params, lr=2e-3)
    streams = Streams(train_ids, 32, 64)
    ours, theirs, state, tstate = [], [], None, None
    for _ in range(args.steps):
        x, y, reset = streams.next()
        if reset:
            state = tstate = None
        logits, state, cache = model.forward(x, state)
        loss, dlogits = cross_entropy(logits, y)
        model.zero_grad()
        model.backward(dlogits, cache)
        clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        out, tstate = lstm(embed(torch.from_numpy(x.astype(np.int64))), tstate)
        tloss = torch.nn.functional.cross_entropy(head(out).reshape(-1, V),
                                                  torch.from_numpy(y.astype(np.int64)).reshape(-1))
        topt.zero_grad()
        tloss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        topt.step()
        tstate = tuple(s.detach() for s in tstate)
        ours.append(float(loss))
        theirs.append(tloss.item())
    size = max(1, args.steps // args.blocks)
    print("| steps | tinyrnn mean loss (nats) | torch mean loss (nats) |")
    print("|---|---|---|")
    for s in range(0, args.steps, size):
        print(f"| {s}-{min(s + size, args.steps)} | {np.mean(ours[s:s + size]):.4f} | {np.mean(theirs[s:s + size]):.4f} |")


if __name__ == "__main__":
    main()
