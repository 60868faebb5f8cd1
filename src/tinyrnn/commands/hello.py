"""``tinyrnn hello``: the smallest character model, "hello" -> "ohlol"."""

from __future__ import annotations

from ._args import add_common, add_config_flags, given, print_json


def run(args):
    from ..demos import hello

    cfg = hello.HelloConfig(**given(args, hello.HelloConfig))
    metrics = hello.train(cfg, (lambda line: None) if args.quiet else print)
    print(f"Final prediction: {metrics['predicted']} (target {cfg.target})")
    if args.json:
        metrics.pop("history")
        print_json(metrics)
    return 0


def add_parser(sub):
    from ..demos.hello import HelloConfig

    p = sub.add_parser(
        "hello",
        help='the smallest character model: "hello" -> "ohlol"',
        description="Embedding(4, 10) -> 2-layer RNN (hidden 8) -> Linear(8, 4), cross-entropy, "
        'Adam, learning to map "hello" to "ohlol".',
    )
    add_config_flags(p, HelloConfig)
    add_common(p, HelloConfig.seed)
    p.set_defaults(run=run)
