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

    from tinyrnn import Adam
    from tinyrnn.commands._charlm_run import CharLMConfig, prepare
    from tinyrnn.data.text import Streams
    from tinyrnn.models.charlm import CharLM, train_step

    vocab, train_ids, _, _ = prepare(CharLMConfig(files=[]))
    V = len(vocab)
    model = CharLM(V, 64, 256, "lstm", rng=np.random.default_rng(0))
    opt = Adam(model.parameters(), lr=2e-3)
    tm = torch.nn.ModuleDict(
        dict(embed=torch.nn.Embedding(V, 64), rnn=torch.nn.LSTM(64, 256), head=torch.nn.Linear(256, V))
    )
    tm.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})  # same names
    embed, lstm, head = tm["embed"], tm["rnn"], tm["head"]
    params = list(tm.parameters())
    topt = torch.optim.Adam(params, lr=2e-3)
    streams = Streams(train_ids, 32, 64)
    ours, theirs, state, tstate = [], [], None, None
    for _ in range(args.steps):
        x, y, reset = streams.next()
        if reset:
            state = tstate = None
        loss, state = train_step(model, opt, x, y, state, clip=5.0)
        out, tstate = lstm(embed(torch.from_numpy(x.astype(np.int64))), tstate)
        tloss = torch.nn.functional.cross_entropy(
            head(out).reshape(-1, V), torch.from_numpy(y.astype(np.int64)).reshape(-1)
        )
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
        print(
            f"| {s}-{min(s + size, args.steps)} | {np.mean(ours[s : s + size]):.4f} | {np.mean(theirs[s : s + size]):.4f} |"
        )


if __name__ == "__main__":
    main()
