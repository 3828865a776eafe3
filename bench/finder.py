"""Cost of an LR range test: our LRFinder (training loss, and validation loss in the compiled step) against
one epoch of plain training and a seed-style finder that calls `model.evaluate` on 5 sampled batches per step.

One process; the same data (scikit-learn's digits, tiled) and the same model for every variant, a fresh
compiled copy per run, so each run includes its one trace; the variants' order rotates every round. Printed:
median seconds per one-epoch run and the ratios, for a small MLP (where per-call overhead shows), a CNN, and the CNN
with batch norm, where the validation loss takes two passes over the validation rows (one in training mode for their
statistics, one to score) and is timed beside the single pass through the moving averages that it replaced.
Run: python bench/finder.py [--rounds 5]
"""

import argparse, os, time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
import numpy as np
import keras
from sklearn.datasets import load_digits
from onecycle import LRFinder
from onecycle import in_graph


class SeedStyleFinder(keras.callbacks.Callback):
    "What the old clr.py did with validation data: set the LR, then model.evaluate 5 sampled batches, every batch."

    def __init__(self, total_steps, x_val, y_val, batch_size, sample_rate=5, minimum_lr=1e-4, maximum_lr=1.0):
        super().__init__()
        self.total_steps, self.x_val, self.y_val, self.batch_size, self.sample_rate = (
            total_steps,
            x_val,
            y_val,
            batch_size,
            sample_rate,
        )
        self.minimum_lr, self.maximum_lr, self.rng, self.step, self.losses = (
            minimum_lr,
            maximum_lr,
            np.random.default_rng(0),
            0,
            [],
        )

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = self.minimum_lr * (self.maximum_lr / self.minimum_lr) ** (
            self.step / (self.total_steps - 1)
        )

    def on_train_batch_end(self, batch, logs=None):
        rows = self.rng.integers(0, len(self.x_val), self.sample_rate * self.batch_size)
        self.losses.append(
            self.model.evaluate(self.x_val[rows], self.y_val[rows], batch_size=self.batch_size, verbose=0)
        )
        self.step += 1


class ThroughMovingAverages(keras.callbacks.Callback):
    "For the fit it is passed to: the validation loss read through the moving averages, as before batch norm's fix."

    def on_train_begin(self, logs=None):  # before the first step traces the validation loss
        self.own = in_graph._inference_on_own_statistics
        in_graph._inference_on_own_statistics = lambda model, x: model(x, training=False)

    def on_train_end(self, logs=None):
        in_graph._inference_on_own_statistics = self.own


def mlp():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation='relu'),
            keras.layers.Dense(256, activation='relu'),
            keras.layers.Dense(10),
        ]
    )


def cnn():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(64, 3, padding='same', activation='relu'),
            keras.layers.Conv2D(64, 3, padding='same', activation='relu'),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(128, 3, padding='same', activation='relu'),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    )


def cnn_batch_norm():
    conv = lambda filters: [
        keras.layers.Conv2D(filters, 3, padding='same', use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
    ]
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            *conv(64),
            *conv(64),
            keras.layers.MaxPooling2D(),
            *conv(128),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    )


def compiled(build):
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(
        keras.optimizers.SGD(1e-3, momentum=0.9), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def main(rounds=5, batch_size=32):
    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype('float32').reshape(-1, 8, 8, 1)
    x_val, y_val = x[1437:], y[1437:]
    x_train, y_train = np.tile(x[:1437], (3, 1, 1, 1)), np.tile(y[:1437], 3)
    steps = int(np.ceil(len(x_train) / batch_size))
    validation = lambda: LRFinder(
        batch_size=batch_size,
        minimum_lr=1e-4,
        maximum_lr=1.0,
        validation_data=(x_val, y_val),
        stopping_criterion_factor=None,
        verbose=False,
    )
    variants = {
        'plain epoch': lambda: [],
        'LRFinder (training loss)': lambda: [
            LRFinder(minimum_lr=1e-4, maximum_lr=1.0, stopping_criterion_factor=None, verbose=False)
        ],
        'LRFinder (validation, 5 batches)': lambda: [validation()],
        'seed style (evaluate 5 batches)': lambda: [SeedStyleFinder(steps, x_val, y_val, batch_size)],
    }
    print(
        f"{rounds} rounds, {steps} steps of batch {batch_size}, keras {keras.__version__}; seconds per one-epoch run (median), each with its trace"
    )
    models = (('MLP 64-256-256-10', mlp), ('CNN 64-64-128 conv', cnn), ('CNN with batch norm', cnn_batch_norm))
    for model_name, build in models:
        batch_norm, runs = build is cnn_batch_norm, dict(variants)
        if batch_norm:  # its validation loss as it was read before, through the moving averages
            runs['LRFinder (validation, moving averages)'] = lambda: [validation(), ThroughMovingAverages()]
        seconds = {name: [] for name in runs}
        names = list(runs)
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                model, callbacks = compiled(build), runs[name]()
                start = time.perf_counter()
                model.fit(x_train, y_train, batch_size=batch_size, epochs=1, verbose=0, callbacks=callbacks)
                seconds[name].append(time.perf_counter() - start)
        median = {name: float(np.median(s)) for name, s in seconds.items()}
        print(f"\n{model_name}")
        for name in runs:
            print(f"  {name:40s} {median[name]:7.2f} s  {median[name] / median['plain epoch']:6.2f}x plain")
        print(
            f"  seed style / LRFinder validation: {median['seed style (evaluate 5 batches)'] / median['LRFinder (validation, 5 batches)']:.1f}x"
        )
        print(
            f"  LRFinder training loss / plain epoch: {median['LRFinder (training loss)'] / median['plain epoch']:.2f}x"
        )
        if batch_norm:
            own, moving = median['LRFinder (validation, 5 batches)'], median['LRFinder (validation, moving averages)']
            print(f"  validation on the rows' own statistics / through the moving averages: {own / moving:.2f}x")


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=5)
    main(**vars(parser.parse_args()))
