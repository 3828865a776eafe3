"""Time to accuracy on the embedded dataset (scikit-learn's digits): one-cycle SGD vs Adam at a constant 2e-3
(the old README's baseline) vs SGD at a constant LR, the same model and initial weights, several epoch budgets.

The one-cycle max LR comes from one LR range test, done once; one-cycle runs at each of its three suggestions
(valley, steepest, minimum: all reported, none picked), and the constant SGD at the valley LR. Accuracy is measured on the fixed held-out split, which nothing is tuned on; each budget is a
separate run from the same initial weights (a one-cycle run spans its whole budget). Several seeds; medians.
Run: python bench/time_to_accuracy.py [--budgets 2 4 8 16 32] [--seeds 3] [--target 0.95]
"""
import argparse, os, time
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
import numpy as np
import keras
import tensorflow as tf
from onecycle import OneCycleLR, lr_find
from onecycle.demo import load_digits_split, digits_mlp

def accuracy(seed, optimizer, epochs, data, callbacks=()):
    (x_train, y_train), (x_test, y_test) = data
    model = digits_mlp(seed)
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=['accuracy'])
    model.fit(x_train, y_train, batch_size=64, epochs=epochs, verbose=0, callbacks=list(callbacks))
    return float(model.evaluate(x_test, y_test, verbose=0)[1])

def main(budgets=(2, 4, 8, 16, 32), seeds=3, target=0.95):
    data = load_digits_split(0)
    (x_train, y_train), _ = data
    search = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(len(x_train), seed=0).repeat().batch(16)
    model = digits_mlp(0)
    model.compile(keras.optimizers.SGD(momentum=0.9), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    finder = lr_find(model, search, minimum_lr=1e-4, maximum_lr=10., num_steps=300, verbose=0)
    max_lr = finder.suggestion('valley')
    runs = {f'one-cycle SGD, {method} {finder.suggestion(method):.3g}':
            (lambda lr: lambda: (keras.optimizers.SGD(momentum=0.9), [OneCycleLR(max_lr=lr, verbose=False)]))(finder.suggestion(method))
            for method in ('valley', 'steepest', 'minimum')}
    runs.update({'Adam 2e-3': lambda: (keras.optimizers.Adam(2e-3), []),
            f'SGD constant {max_lr:.3g}': lambda: (keras.optimizers.SGD(max_lr, momentum=0.9), [])})
    start = time.perf_counter()
    def median_accuracy(make, epochs):
        scores = []
        for seed in range(seeds):
            optimizer, callbacks = make()
            scores.append(accuracy(seed, optimizer, epochs, data, callbacks))
        return float(np.median(scores))
    results = {name: {e: median_accuracy(make, e) for e in budgets} for name, make in runs.items()}
    print(f"digits MLP 64-128-10, batch 64; LRs from one LR range test; median test accuracy of {seeds} seeds")
    print(f"{'epochs':>36s} " + ' '.join(f'{e:>6d}' for e in budgets) + f"   first budget >= {target}")
    for name, by_budget in results.items():
        reached = next((e for e in budgets if by_budget[e] >= target), None)
        print(f"{name:>36s} " + ' '.join(f'{by_budget[e]:6.3f}' for e in budgets) + f"   {reached if reached else 'not reached'}")
    print(f"({time.perf_counter() - start:.0f} s)")

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--budgets', type=int, nargs='+', default=[2, 4, 8, 16, 32])
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--target', type=float, default=0.95)
    a = parser.parse_args()
    main(tuple(a.budgets), a.seeds, a.target)
