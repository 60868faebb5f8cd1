"""bench/memory_options.py: without an option it trains exactly what `tinyrnn memory` trains;
with zoneout the layer is rebuilt with the option and the same initial weights."""

import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "bench", "memory_options.py")
ARGS = ["adding", "--cell", "irnn", "--T", "12", "--steps", "30", "--eval-every", "15"]


def run(*argv):
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "..", "src"))
    out = subprocess.run(argv, capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_plain_run_equals_the_memory_command():
    plain = run(sys.executable, SCRIPT, *ARGS, "--json")
    command = run(sys.executable, "-m", "tinyrnn", "memory", *ARGS, "--threads", "1", "--quiet", "--json")
    assert plain["options"] == {}
    assert plain["test_mse"] == command["test_mse"]
    assert plain["solved_fraction"] == command["solved_fraction"] and plain["steps"] == command["steps"] == 30


def test_zoneout_keeps_the_initial_weights_and_trains_otherwise():
    sys.path.insert(0, os.path.join(HERE, "..", "bench"))
    from memory_options import with_options
    from tinyrnn.demos import memory

    cfg = memory.MemoryConfig(task="adding", cell="irnn", T=12, steps=1).resolved()
    plain = memory.build_model(cfg, np.random.default_rng([0, 2]))
    zoned = with_options(memory.build_model, {"zoneout": 0.5})(cfg, np.random.default_rng([0, 2]))
    assert zoned.rnn.zoneout == 0.5 and plain.rnn.zoneout == 0.0
    for name, value in plain.state_dict().items():
        np.testing.assert_array_equal(zoned.state_dict()[name], value)
    with_z = run(sys.executable, SCRIPT, *ARGS, "--zoneout", "0.5", "--json")
    plain_run = run(sys.executable, SCRIPT, *ARGS, "--json")
    assert with_z["options"] == {"zoneout": 0.5}
    assert with_z["curve"]["train_loss"] != plain_run["curve"]["train_loss"]
