"""Per-step overhead of OneCycleLR against a constant learning rate and a seed-style per-batch callback.

One process, same data (scikit-learn's digits, tiled x4) and the same small MLP for every variant, where
per-step overhead shows. Each variant has its own compiled model, reused across rounds; the order of the
variants rotates every round. Steady epochs (all but the first of each fit) give the per-step time; the
first epoch minus the steady median is the fit's one-off set-up cost, compared with a forced retrace.
Run: python bench/overhead.py [--rounds 7] [--epochs 6]
"""

import argparse, os, time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
import numpy as np
import keras
from sklearn.datasets import load_digits
from onecycle import OneCycleLR


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


class SeedStyleSchedule(keras.callbacks.Callback):
    "What the old clr.py did: read, compute and assign LR and momentum in Python before every batch."

    def __init__(self, total_steps, max_lr):
        super().__init__()
        self.total_steps, self.max_lr, self.step = total_steps, max_lr, 0

    def on_train_batch_begin(self, batch, logs=None):
        optimizer, mid = self.model.optimizer, self.total_steps // 2
        position = self.step / mid if self.step <= mid else max(2 - self.step / mid, 0)
        float(optimizer.learning_rate)
        optimizer.momentum
        optimizer.learning_rate = self.max_lr * (0.1 + 0.9 * position)
        optimizer.momentum = 0.95 - 0.1 * position
        self.step += 1


def make_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(256, activation='relu'),
            keras.layers.Dense(256, activation='relu'),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        keras.optimizers.SGD(0.05, momentum=0.9), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def main(rounds=7, epochs=6, batch_size=32):
    x, y = load_digits(return_X_y=True)
    x, y = np.tile((x / 16).astype('float32'), (4, 1)), np.tile(y, 4)
    steps = int(np.ceil(len(x) / batch_size))
    variants = {
        'constant': lambda m: [],
        'constant + forced retrace': lambda m: (m.make_train_function(force=True), [])[1],
        'OneCycleLR (LR + momentum)': lambda m: [OneCycleLR(max_lr=0.1, verbose=False)],
        'seed-style per-batch callback': lambda m: [SeedStyleSchedule(epochs * steps, 0.1)],
    }
    models = {name: make_model() for name in variants}
    steady, setup = {n: [] for n in variants}, {n: [] for n in variants}
    names = list(variants)
    for r in range(rounds + 1):  # round 0 warms every model up (first trace) and is not counted
        for name in names[r % len(names) :] + names[: r % len(names)]:
            timer = EpochTimer()
            models[name].fit(
                x,
                y,
                batch_size=batch_size,
                epochs=epochs,
                verbose=0,
                shuffle=False,
                callbacks=variants[name](models[name]) + [timer],
            )
            if r == 0:
                continue
            per_epoch = np.median(timer.seconds[1:])
            steady[name].append(per_epoch / steps)
            setup[name].append(timer.seconds[0] - per_epoch)
    base = np.median(steady['constant'])
    retrace = np.median(setup['constant + forced retrace'])
    print(
        f"{rounds} rounds x {epochs} epochs x {steps} steps, batch {batch_size}, MLP 64-256-256-10, keras {keras.__version__}"
    )
    print(f"{'variant':32s} {'us/step':>9s} {'vs constant':>12s} {'set-up ms':>10s}")
    for name in variants:
        print(
            f"{name:32s} {np.median(steady[name]) * 1e6:9.1f} {np.median(steady[name]) / base:12.3f} {np.median(setup[name]) * 1e3:10.1f}"
        )
    print(f"OneCycleLR / constant per step: {np.median(steady['OneCycleLR (LR + momentum)']) / base:.3f}")
    print(f"seed-style / constant per step: {np.median(steady['seed-style per-batch callback']) / base:.3f}")
    print(f"OneCycleLR set-up / one retrace: {np.median(setup['OneCycleLR (LR + momentum)']) / retrace:.2f}")


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=7)
    parser.add_argument('--epochs', type=int, default=6)
    main(**vars(parser.parse_args()))
