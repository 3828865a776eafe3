"""Races on real data: does one-cycle at the package's default max_lr suggestion reach a given accuracy in fewer steps
than the tuned Adam, and does it do as well as one-cycle at the best max_lr of a grid?

For each problem and seed: a stratified train / validation / test split (60/20/20) of scikit-learn's digits (real
handwritten digits, offline), the same initial weights for every contestant, a doubling series of step budgets, each
one-cycle run spanning its whole budget. Contestants:
  - Adam and SGD(momentum 0.9) at a constant LR, each at the best LR of its grid (picked per budget on validation);
  - one-cycle SGD (Nesterov, momentum 0.95->0.85) and one-cycle Adam (beta_1 0.95->0.85), max_lr from `lr_find` at
    the training batch size on that seed's training split, default suggestion ('one_cycle');
  - the same two at the best max_lr of a half-decade grid (picked per budget on validation): what one-cycle can do.
Nothing is tuned on test. Printed: the median test accuracy over seeds per budget, its noise (binomial standard error
of one accuracy on the test split), and the first budget at which each contestant reaches the tuned Adam's best test
accuracy (a shortfall smaller than the noise counts as reached: a tie).
Run: python bench/race.py [--quick] [--problems mlp cnn] [--seeds 3] [--plot race.png]
"""
import argparse, os, time
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
import numpy as np
import keras
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from onecycle import OneCycleLR, lr_find
from onecycle.demo import digits_mlp

def split(seed):
    "Digits in [0, 1]: (train, validation, test) as (x, y) arrays, stratified 60/20/20, a different split per seed."
    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype('float32')
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.25, random_state=seed, stratify=y_rest)
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)

def cnn(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((64,)), keras.layers.Reshape((8, 8, 1)),
                             keras.layers.Conv2D(32, 3, padding='same', activation='relu'),
                             keras.layers.Conv2D(32, 3, padding='same', activation='relu'), keras.layers.MaxPooling2D(),
                             keras.layers.Conv2D(64, 3, padding='same', activation='relu'), keras.layers.MaxPooling2D(),
                             keras.layers.Flatten(), keras.layers.Dense(10)])

PROBLEMS = {'mlp': (digits_mlp, 'digits MLP 64-128-10'), 'cnn': (cnn, 'digits CNN (3 conv layers)')}
BATCH = 64
ADAM_GRID, SGD_GRID = (1e-3, 2e-3, 5e-3, 1e-2), (0.01, 0.03, 0.1, 0.3)
ONE_CYCLE_GRID = {'sgd': (0.01, 0.03, 0.1, 0.3, 1., 3.), 'adam': (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)}

def optimizer(kind, lr=1e-3):
    if kind == 'sgd': return keras.optimizers.SGD(lr, momentum=0.9)
    if kind == 'nesterov': return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True)
    return keras.optimizers.Adam(lr)

def compiled(build, seed, opt):
    model = build(seed)   # the same initial weights for every contestant of a seed
    model.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=False)
    return model

def accuracy(model, data):
    x, y = data
    return float(np.mean(np.argmax(keras.ops.convert_to_numpy(model(x, training=False)), -1) == y))

def batches(train, steps, seed):
    "`steps` batches of the training split: whole shuffles one after another."
    x, y = train
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(-(-steps * BATCH // len(x)))])[:steps * BATCH]
    return x[order], y[order]

def constant_runs(build, kind, grid, split_, budgets, seed):
    "{lr: {budget: (val, test)}}: one run per LR, evaluated as it passes each budget."
    train, val, test = split_
    x, y = batches(train, max(budgets), seed)
    results = {}
    for lr in grid:
        model, done, results[lr] = compiled(build, seed, optimizer(kind, lr)), 0, {}
        for budget in budgets:
            model.fit(x[done * BATCH:budget * BATCH], y[done * BATCH:budget * BATCH], batch_size=BATCH, shuffle=False, verbose=0)
            done, results[lr][budget] = budget, (accuracy(model, val), accuracy(model, test))
    return results

def one_cycle_run(build, kind, max_lr, split_, budget, seed):
    train, val, test = split_
    model = compiled(build, seed, optimizer(kind))
    x, y = batches(train, budget, seed)
    model.fit(x, y, batch_size=BATCH, shuffle=False, verbose=0, callbacks=[OneCycleLR(max_lr=max_lr, verbose=False)])
    return accuracy(model, val), accuracy(model, test)

def suggested_max_lr(build, kind, split_, seed):
    "The package's default suggestion: lr_find at the training batch size on this seed's training split."
    return lr_find(compiled(build, seed, optimizer(kind)), *split_[0], batch_size=BATCH, verbose=0, seed=seed).suggestion()

def race(problem, seeds=3, budgets=(32, 64, 128, 256, 512), quick=False):
    "Every contestant's (val, test) accuracy per seed and budget, and the suggestions: a dict."
    build = PROBLEMS[problem][0]
    grids = {kind: grid[1::2] if quick else grid for kind, grid in ONE_CYCLE_GRID.items()}
    runs, suggestions = {}, {'sgd': [], 'adam': []}
    for seed in range(seeds):
        split_ = split(seed)
        for name, kind, grid in (('Adam, best constant LR', 'adam', ADAM_GRID), ('SGD, best constant LR', 'sgd', SGD_GRID)):
            for lr, by_budget in constant_runs(build, kind, grid, split_, budgets, seed).items():
                runs.setdefault(name, {}).setdefault(lr, {}).update({(seed, b): r for b, r in by_budget.items()})
        for label, kind, opt_kind in (('SGD', 'sgd', 'nesterov'), ('Adam', 'adam', 'adam')):
            suggestion = suggested_max_lr(build, opt_kind, split_, seed)
            suggestions[kind].append(suggestion)
            runs.setdefault(f'one-cycle {label}, suggested', {}).setdefault('suggested', {}).update(
                {(seed, b): one_cycle_run(build, opt_kind, suggestion, split_, b, seed) for b in budgets})
            for lr in grids[kind]:
                runs.setdefault(f'one-cycle {label}, best grid max_lr', {}).setdefault(lr, {}).update(
                    {(seed, b): one_cycle_run(build, opt_kind, lr, split_, b, seed) for b in budgets})
    return dict(problem=problem, seeds=seeds, budgets=budgets, runs=runs, suggestions=suggestions, test_size=len(split_[2][1]))

def table(result):
    "Per contestant and budget: (picked setting, median test accuracy), the setting picked on mean validation accuracy."
    rows = {}
    for name, by_setting in result['runs'].items():
        rows[name] = {}
        for b in result['budgets']:
            val = {s: np.mean([r[(seed, b)][0] for seed in range(result['seeds'])]) for s, r in by_setting.items()}
            best = max(val, key=val.get)
            rows[name][b] = (best, float(np.median([by_setting[best][(seed, b)][1] for seed in range(result['seeds'])])))
    return rows

def noise(p, n): return float(np.sqrt(p * (1 - p) / n))

def report(result):
    rows, budgets, n = table(result), result['budgets'], result['test_size']
    adam = rows['Adam, best constant LR']
    target = max(acc for _, acc in adam.values())
    target_noise = noise(target, n)
    lines = [f"{PROBLEMS[result['problem']][1]}, batch {BATCH}; median test accuracy of {result['seeds']} seeds "
             f"(test split {n} digits); settings picked per budget on validation",
             f"suggested max_lr per seed: one-cycle SGD {', '.join(f'{lr:.3g}' for lr in result['suggestions']['sgd'])}; "
             f"one-cycle Adam {', '.join(f'{lr:.3g}' for lr in result['suggestions']['adam'])}",
             f"{'steps':>36s} " + ' '.join(f'{b:>7d}' for b in budgets) + f"   steps to reach {target:.3f} (Adam's best, noise ±{target_noise:.3f})"]
    for name, by_budget in rows.items():
        reached = next((b for b in budgets if by_budget[b][1] >= target - target_noise), None)
        lines.append(f"{name:>36s} " + ' '.join(f'{acc:7.3f}' for _, acc in by_budget.values()) + f"   {reached or 'not reached'}")
    lines.append(f"{'noise (binomial SE of one accuracy)':>36s} " + ' '.join(f'{noise(adam[b][1], n):7.3f}' for b in budgets))
    for label in ('SGD', 'Adam'):
        suggested, best = rows[f'one-cycle {label}, suggested'], rows[f'one-cycle {label}, best grid max_lr']
        verdict = ['tie' if abs(suggested[b][1] - best[b][1]) <= noise(best[b][1], n) else
                   'better' if suggested[b][1] > best[b][1] else 'WORSE' for b in budgets]
        lines.append(f"one-cycle {label}: suggested vs best grid max_lr ({', '.join(f'{best[b][0]:g}' for b in budgets)}): "
                     + ', '.join(verdict))
    return '\n'.join(lines)

def plot(results, path):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(results), figsize=(6.5 * len(results), 4), squeeze=False)
    for ax, result in zip(axes[0], results):
        rows = table(result)
        for name, by_budget in rows.items():
            ax.plot(result['budgets'], [acc for _, acc in by_budget.values()], 'o-', label=name)
        ax.set(xscale='log', xlabel='optimizer steps (log scale)', ylabel='median test accuracy', title=PROBLEMS[result['problem']][1])
        ax.minorticks_off(); ax.set_xticks(result['budgets'], [str(b) for b in result['budgets']]); ax.grid(alpha=0.3)
        ax.set_ylim(max(0, min(acc for r in rows.values() for _, acc in r.values()) - 0.02), 1)
    axes[0][0].legend(fontsize=8); fig.tight_layout(); fig.savefig(path); plt.close(fig)

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--problems', nargs='+', default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--budgets', type=int, nargs='+', default=[32, 64, 128, 256, 512])
    parser.add_argument('--quick', action='store_true', help='3 budgets, 2 seeds, every other grid value: for CI')
    parser.add_argument('--plot', default=None, help='write accuracy against steps as a PNG here')
    a = parser.parse_args()
    budgets, seeds = ((32, 128, 512), 2) if a.quick else (tuple(a.budgets), a.seeds)
    start, results = time.perf_counter(), []
    for problem in a.problems:
        results.append(race(problem, seeds, budgets, a.quick))
        print(report(results[-1]), f"\n({time.perf_counter() - start:.0f} s so far)\n", flush=True)
    if a.plot: plot(results, a.plot)
