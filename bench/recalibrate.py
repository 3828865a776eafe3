"""Batch-norm recalibration: recalibrate_batchnorm's compiled pass against the eager pass per batch it replaced.

One process, one MiniMobileNetV2 (alpha 0.5, as the tutorial's small run) and the same batches (scikit-learn's
digits scaled up to 32x32 RGB) for every variant; the order of the variants rotates every round, and each starts
from the same weights. Variants: the eager pass (the old algorithm, written here: one `model(x, training=True)` per
batch, each layer's momentum at k/(k+1) at batch k), `recalibrate_batchnorm` (compiled anew at each call), and one
`_BatchStatistics` kept between calls (as `confirm_max_lr` keeps it for all its probes). Prints the median seconds
per call, the ratios, and how far the compiled statistics are from the eager ones. Any backend: KERAS_BACKEND=jax.
Run: python bench/recalibrate.py [--rounds 3] [--batches 16]
"""

import argparse, os, time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
import numpy as np
import keras
from sklearn.datasets import load_digits
from onecycle import MiniMobileNetV2, recalibrate_batchnorm
from onecycle.models import _BatchStatistics
from onecycle.keras_private import flatten_layers


def eager_recalibration(model, batches):
    "The eager pass per batch: a running mean through each layer's momentum, k/(k+1) at batch k."
    norms = [layer for layer in flatten_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [norm.momentum for norm in norms]
    for k, batch in enumerate(batches):
        for norm in norms:
            norm.momentum = k / (k + 1)
        model(batch, training=True)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum


def statistics(model):
    return np.concatenate(
        [
            keras.ops.convert_to_numpy(v)
            for layer in flatten_layers(model)
            if isinstance(layer, keras.layers.BatchNormalization)
            for v in (layer.moving_mean, layer.moving_variance)
        ]
    )


def main(rounds=3, batches=16, batch_size=32):
    digits = load_digits().images[: batches * batch_size, ..., None] / 16.0
    images = np.repeat(np.repeat(digits, 4, 1), 4, 2).repeat(3, -1).astype('float32')
    data = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
    keras.utils.set_random_seed(0)
    model = MiniMobileNetV2(alpha=0.5)
    start = model.get_weights()
    kept = _BatchStatistics(model)
    variants = {
        'eager, per batch (replaced)': lambda: eager_recalibration(model, data),
        'recalibrate_batchnorm (compiled per call)': lambda: recalibrate_batchnorm(model, data),
        '_BatchStatistics kept (as the probes)': lambda: kept.recalibrate(data),
    }
    seconds, results = {name: [] for name in variants}, {}
    names = list(variants)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            model.set_weights(start)
            began = time.perf_counter()
            variants[name]()
            seconds[name].append(time.perf_counter() - began)
            results[name] = statistics(model)
    eager = names[0]
    print(
        f"MiniMobileNetV2(alpha=0.5), {batches} batches of {batch_size}, backend {keras.backend.backend()}, "
        f"{rounds} rounds; median seconds per call (each round's, in order)"
    )
    for name in names:
        median = float(np.median(seconds[name]))
        each = ', '.join(f'{s:.2f}' for s in seconds[name])
        print(f"{name:>44}: {median:6.2f} s ({each}); eager / this {np.median(seconds[eager]) / median:5.1f}x")
    for name in names[1:]:
        gap = np.abs(results[name] - results[eager]).max() / np.abs(results[eager]).max()
        print(f"{name:>44}: statistics within {gap:.1e} of the eager ones (largest gap over largest value)")


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--batches', type=int, default=16)
    args = parser.parse_args()
    main(args.rounds, args.batches)
