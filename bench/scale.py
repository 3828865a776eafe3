"""Per-step time of OneCycleLR against a constant learning rate on every Keras backend and under MirroredStrategy.

Each setting runs in its own process (the backend is chosen at import): TensorFlow, JAX, PyTorch, and TensorFlow's
MirroredStrategy over two logical CPU devices. Inside a process both variants train the same MLP on the digits
(tiled x4), each its own compiled model, alternating round by round; steady epochs (all but each fit's first) give
the per-step time, and the printed ratio is OneCycleLR over constant, measured side by side in that process.
Run: python bench/scale.py [--rounds 5] [--epochs 4] [--settings tensorflow jax torch mirrored]
"""

import argparse, json, os, subprocess, sys

SETTINGS = {'tensorflow': 'tensorflow', 'jax': 'jax', 'torch': 'torch', 'mirrored': 'tensorflow'}


def measure(setting, rounds, epochs, batch_size=32):
    "Median steady seconds per step of each variant, in this process."
    import numpy as np
    from sklearn.datasets import load_digits
    from onecycle import OneCycleLR

    scope = None
    if setting == 'mirrored':
        import tensorflow as tf

        tf.config.set_logical_device_configuration(
            tf.config.list_physical_devices('CPU')[0], [tf.config.LogicalDeviceConfiguration()] * 2
        )
        scope = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1']).scope

    from overhead import EpochTimer, make_model  # the same timer and MLP as bench/overhead.py

    x, y = load_digits(return_X_y=True)
    x, y = np.tile((x / 16).astype('float32'), (4, 1)), np.tile(y, 4)
    steps = int(np.ceil(len(x) / batch_size))
    variants = {'constant': lambda: [], 'one_cycle': lambda: [OneCycleLR(max_lr=0.1, verbose=False)]}
    models = {}
    for name in variants:
        if scope is None:
            models[name] = make_model()
        else:
            with scope():
                models[name] = make_model()
    per_step = {name: [] for name in variants}
    for r in range(rounds + 1):  # round 0 traces each model once and is not counted
        for name in list(variants) if r % 2 else list(variants)[::-1]:
            timer = EpochTimer()
            models[name].fit(
                x,
                y,
                batch_size=batch_size,
                epochs=epochs,
                verbose=0,
                shuffle=False,
                callbacks=variants[name]() + [timer],
            )
            if r:
                per_step[name].append(float(np.median(timer.seconds[1:])) / steps)
    return {name: float(np.median(times)) for name, times in per_step.items()}


def main(settings, rounds, epochs):
    print(
        f"{rounds} rounds x {epochs} epochs, MLP 64-256-256-10 on the digits x4, batch 32; each setting in its own process"
    )
    print(f"{'setting':12s} {'constant us/step':>17s} {'OneCycleLR us/step':>19s} {'ratio':>7s}")
    for setting in settings:
        env = dict(os.environ, KERAS_BACKEND=SETTINGS[setting], TF_CPP_MIN_LOG_LEVEL='3')
        done = subprocess.run(
            [sys.executable, __file__, '--child', setting, '--rounds', str(rounds), '--epochs', str(epochs)],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            print(f"{setting:12s} failed:\n{done.stderr[-2000:]}")
            continue
        times = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{setting:12s} {times['constant'] * 1e6:17.1f} {times['one_cycle'] * 1e6:19.1f} {times['one_cycle'] / times['constant']:7.3f}",
            flush=True,
        )


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--settings', nargs='+', default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--child', choices=list(SETTINGS), help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.child:
        print(json.dumps(measure(a.child, a.rounds, a.epochs)))
    else:
        main(a.settings, a.rounds, a.epochs)
