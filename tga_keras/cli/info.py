"""``tga info``: versions, the runtimes installed, presets with their parameter counts, and the machine."""

from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser(
        "info",
        help="show versions, presets and devices",
        description="Print library versions, the runtimes a Keras model can run on here (the candidates of "
        "--backend auto), the CPU and its class, the model presets with parameter counts, and devices.",
    )
    p.add_argument("--summary", metavar="PRESET", help="also print model.summary() of a preset")
    return p


def run(args) -> int:
    import keras
    import tensorflow as tf

    import tga_keras
    from tga_keras.models.config import TGAConfig
    from tga_keras.models.model import build_tga
    from tga_keras.models.presets import PRESETS
    from tga_keras.runtime.fastest import candidates, versions
    from tga_keras.runtime.machine import describe_cpu

    print(f"tga-keras {tga_keras.__version__}, keras {keras.__version__}, tensorflow {tf.__version__}")
    found = versions()
    needed = dict.fromkeys(pip for c in candidates(None) for _, pip in c.needs)  # what --backend auto converts to
    runtimes = [f"{dist} {found.get(dist) or 'not installed'}" for dist in needed]
    print("runtimes:", ", ".join(runtimes))
    print("cpu:", describe_cpu())
    print("devices:", ", ".join(d.name for d in tf.config.list_physical_devices()))
    for name in PRESETS:
        model = build_tga(TGAConfig.preset(name))
        n = sum(int(w.numpy().size) for w in model.trainable_weights)
        print(f"preset {name:9s} {n:>10,} trainable parameters  {TGAConfig.preset(name).to_json()}")
    if args.summary:
        build_tga(TGAConfig.preset(args.summary)).summary()
    return 0
