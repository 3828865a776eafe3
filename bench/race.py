"""Races on real data: does one-cycle at the package's default max_lr suggestion reach a given accuracy in fewer steps
than the tuned Adam, and does it do as well as one-cycle at the best max_lr of a grid?

Problems (real handwritten digits from scikit-learn, offline): an MLP and a small CNN on the 8x8 digits, and
MiniMobileNetV2 on the digits written as CIFAR-10 files (32x32 RGB, read back by the package's loader; batch-norm
statistics are recalibrated on the training split before each evaluation). For each problem and seed: a stratified
train / validation / test split (60/20/20), the same initial weights for every contestant, a doubling series of step
budgets, each scheduled run spanning its whole budget. Contestants:
  - Adam and SGD(momentum 0.9) at a constant LR, each at the best LR of its grid (picked per budget on validation);
  - AdamW with a linear warm-up over 5% of the budget then cosine decay to 0 (the package's warmup_cosine_decay, equal to Keras' CosineDecay), at the best peak of
    a grid half a decade apart, and at the common untuned peak 1e-3;
  - Keras' ScheduleFreeAdamW at its defaults, and at the best LR of a grid;
  - one-cycle SGD (Nesterov, momentum 0.95->0.85) and one-cycle Adam (beta_1 0.95->0.85), max_lr from `lr_find` at
    the training batch size on that seed's training split, its default suggestion (three tests on other batch orders,
    the lowest of their 'one_cycle' suggestions);
  - the same two at the best max_lr of a half-decade grid (picked per budget on validation): what one-cycle can do;
  - with --add-budget-aware: the same two at a budget-aware reading of the suggestion, a candidate rule under test (not
    the package's): lowered by the square root of the LR test's steps over the budget, at most half a decade, never
    raised;
  - with --add-confirmed: the same two at the max_lr `confirm_max_lr` picks for each budget (short one-cycle probes at
    the suggestion and half a decade either side, then on past the edge until the loss turns up, then (on the
    validation split, or with --refinements 1) one a quarter decade from the best towards its better neighbour, as
    `OneCycleLR(max_lr=finder)` runs them: on the LR test's data, the training split, scored on 16 batches of it held
    out of the probes' training, or with --confirm-on-validation on the whole training split, scored on the
    validation split; the steps of the probes it ran count as tuning); with --every-probe BUDGETS also one-cycle at every max_lr the probes tried, so a rule that
    picks from the probes can be judged offline (PROBE_PICKS: the package's lowest loss of the probes, the same
    without the quarter-decade probe, the lowest max_lr within one standard error of it, the best accuracy of the
    probes (their compiled metric, on the same rows), the best validation accuracy of those runs (a grid at the
    probes' points) and the best test accuracy (the oracle, out of reach of any rule));
  - with --shapes: AdamW with warm-up cosine, warm-up-stable-decay (1-sqrt cool-down over the last 20%) and linear decay
    to zero, each at one-cycle Adam's suggested peak (the same LR test): which shape to pick at a suggested peak.
Nothing is tuned on test. Printed: the median test accuracy over seeds per budget, its noise (binomial standard error
of one accuracy on the test split), the first budget at which each contestant reaches the tuned AdamW + cosine's best
test accuracy (a shortfall smaller than the noise counts as reached: a tie) with and without the steps its tuning
spent (the whole grid for a grid-tuned contestant, the LR range test for a suggestion), every run that collapsed (per
seed: a non-finite loss, near chance, or a suggestion more than 10 points below one-cycle at the best grid max_lr), and
where each grid's pick landed.
Run: python bench/race.py [--quick] [--problems mlp cnn mobilenet] [--seeds 3] [--budgets ...] [--coarse] [--shapes]
  [--add-confirmed [--confirm-on-validation] [--refinements 1] [--every-probe 32 128]] [--add-budget-aware] [--one-cycle-only] [--suggested-only] [--plot race.png]
(--load race.json --add-shapes --save race.json adds the shapes to a saved race without running the rest again, and
 --add-budget-aware the budget-aware candidate; --load race.json --neighbourhood 32 64 128 runs one-cycle at 0.5-2x
 each seed's suggestion; --load race.json --batch-orders 6 runs six single LR tests per seed on other batch
 orders and one-cycle at each one's suggestion, the lowest of every three and their median curve's; seeds can run
 apart, e.g. --seeds 1 --first-seed 2 --save s2.json, and --load s0.json s1.json s2.json reports them as one race)
"""

import argparse, itertools, math, os, tempfile, time
from pathlib import Path
from collections import namedtuple

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
import numpy as np
import keras
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from onecycle import OneCycleLR, lr_find, Curve, MiniMobileNetV2, recalibrate_batchnorm, confirm_max_lr
from onecycle.search import MaxLRProbes
from onecycle.keras_private import flatten_layers
from onecycle import SUGGESTION_RULES, ScheduleLR, warmup_cosine_decay, warmup_stable_decay, linear_to_zero
from onecycle.data import channel_stats, load_cifar10, write_digits_as_cifar10
from onecycle.demo import digits_mlp


def _digits():
    "The digits as the MLP and the CNN see them: 64 pixels in [0, 1]."
    x, y = load_digits(return_X_y=True)
    return (x / 16).astype('float32'), y


def _digits_as_cifar10():
    "The digits written as CIFAR-10 files (32x32 RGB) and read back by the package's CIFAR-10 loader."
    with tempfile.TemporaryDirectory() as tmp:
        (x_train, y_train), (x_test, y_test) = load_cifar10(write_digits_as_cifar10(f'{tmp}/cifar-10-batches-py'))
    return np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])


def split(problem, seed):
    "(train, validation, test) as (x, y) arrays, stratified 60/20/20, a different split per seed; images standardised."
    x, y = PROBLEMS[problem].data()
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.25, random_state=seed, stratify=y_rest
    )
    if x.ndim == 4:  # CIFAR-format images: the training split's channel statistics, as cifar10_pipelines does
        mean, std = channel_stats(x_train)
        x_train, x_val, x_test = [((images - mean) / std).astype('float32') for images in (x_train, x_val, x_test)]
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def cnn(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Reshape((8, 8, 1)),
            keras.layers.Conv2D(32, 3, padding='same', activation='relu'),
            keras.layers.Conv2D(32, 3, padding='same', activation='relu'),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, padding='same', activation='relu'),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )


def mobilenet(seed):
    keras.utils.set_random_seed(seed)
    return MiniMobileNetV2(alpha=0.35)  # ends in softmax: probabilities, not logits


Problem = namedtuple('Problem', 'build description data batch from_logits')
PROBLEMS = {
    'mlp': Problem(digits_mlp, 'digits MLP 64-128-10', _digits, 64, True),
    'cnn': Problem(cnn, 'digits CNN (3 conv layers)', _digits, 64, True),
    'mobilenet': Problem(
        mobilenet, 'MiniMobileNetV2 (alpha 0.35) on the digits as CIFAR-10', _digits_as_cifar10, 32, False
    ),
}
ADAM_GRID, SGD_GRID = (1e-3, 2e-3, 5e-3, 1e-2), (0.01, 0.03, 0.1, 0.3)
ONE_CYCLE_GRID = {'sgd': (0.01, 0.03, 0.1, 0.3, 1.0, 3.0), 'adam': (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)}
# AdamW with a linear warm-up over 5% of the budget, then cosine decay to 0: peaks half a decade apart, wide enough
# that the pick is never at an edge on these problems (the report says where each grid's picks land); 1e-3 is the
# common untuned peak. Schedule-free AdamW's default LR is Keras' (2.5e-3).
ADAMW_COSINE_GRID, UNTUNED_PEAK = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0), 1e-3
SCHEDULE_FREE_GRID, SCHEDULE_FREE_DEFAULT = (1e-3, 2.5e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0), 2.5e-3
WARMUP_FRACTION = 0.05


def _warmup_cosine_adamw(peak, budget):
    return keras.optimizers.AdamW(
        ScheduleLR(warmup_cosine_decay(budget, peak, max(1, round(WARMUP_FRACTION * budget))))
    )


WSD_DECAY_FRACTION = 0.2  # the cool-down's share of a WSD run (Hägele et al. 2024 use 10-20%)


def _wsd_adamw(peak, budget):
    warmup, decay = max(1, round(WARMUP_FRACTION * budget)), max(1, round(WSD_DECAY_FRACTION * budget))
    return keras.optimizers.AdamW(ScheduleLR(warmup_stable_decay(budget, peak, warmup, decay)))


def _linear_to_zero_adamw(peak, budget):
    return keras.optimizers.AdamW(ScheduleLR(linear_to_zero(budget, peak, max(1, round(WARMUP_FRACTION * budget)))))


# kind: a fresh optimizer at `lr` (for 'adamw_cosine', the peak of a schedule spanning `budget` steps)
OPTIMIZERS = dict(
    sgd=lambda lr, budget: keras.optimizers.SGD(lr, momentum=0.9),
    nesterov=lambda lr, budget: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
    adam=lambda lr, budget: keras.optimizers.Adam(lr),
    schedule_free=lambda lr, budget: keras.optimizers.ScheduleFreeAdamW(lr),
    adamw_cosine=_warmup_cosine_adamw,
    adamw_wsd=_wsd_adamw,
    adamw_linear=_linear_to_zero_adamw,
)


def optimizer(kind, lr=1e-3, budget=None):
    return OPTIMIZERS[kind](lr, budget)


def compiled(problem, seed, opt):
    model = PROBLEMS[problem].build(seed)  # the same initial weights for every contestant of a seed
    model.compile(
        opt,
        keras.losses.SparseCategoricalCrossentropy(from_logits=PROBLEMS[problem].from_logits),
        metrics=['accuracy'],  # the probes score it beside the loss (the races count test accuracy themselves)
        jit_compile=False,
    )
    return model


def accuracies(model, split_, history):
    "(validation accuracy, test accuracy, whether the last training loss is finite); a model with batch norm first gets its statistics averaged over the training split."
    train, val, test = split_
    if any(isinstance(layer, keras.layers.BatchNormalization) for layer in flatten_layers(model)):
        recalibrate_batchnorm(model, tf.data.Dataset.from_tensor_slices(train[0]).batch(256))
    val_test = [
        float(np.mean(np.argmax(keras.ops.convert_to_numpy(model(x, training=False)), -1) == y)) for x, y in (val, test)
    ]
    return (*val_test, bool(np.isfinite(history.history['loss'][-1])))


def batches(train, steps, batch, seed):
    "`steps` batches of the training split: whole shuffles one after another."
    x, y = train
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(-(-steps * batch // len(x)))])[: steps * batch]
    return x[order], y[order]


def anytime_runs(problem, kind, grid, split_, budgets, seed):
    "{lr: {budget: (val, test, finite)}} for an optimizer that needs no budget: one run per LR, evaluated as it passes each budget."
    train, batch = split_[0], PROBLEMS[problem].batch
    x, y = batches(train, max(budgets), batch, seed)
    results = {}
    for lr in grid:
        model, done, results[lr] = compiled(problem, seed, optimizer(kind, lr)), 0, {}
        for budget in budgets:
            history = model.fit(
                x[done * batch : budget * batch],
                y[done * batch : budget * batch],
                batch_size=batch,
                shuffle=False,
                verbose=0,
            )
            done, results[lr][budget] = budget, accuracies(model, split_, history)
    return results


def budget_run(problem, kind, lr, split_, budget, seed, one_cycle=False):
    "(val, test, finite) of one run whose schedule spans `budget` steps: one-cycle up to `lr`, or AdamW + warm-up cosine."
    train, batch = split_[0], PROBLEMS[problem].batch
    model = compiled(problem, seed, optimizer(kind, lr, budget))
    x, y = batches(train, budget, batch, seed)
    callbacks = [OneCycleLR(max_lr=lr, verbose=False)] if one_cycle else []
    return accuracies(model, split_, model.fit(x, y, batch_size=batch, shuffle=False, verbose=0, callbacks=callbacks))


def lr_test(problem, kind, split_, seed, repeats=3, order=None):
    """The package's LR range test (by default, as `lr_find` runs it: three tests on other batch orders) at the training
    batch size on this seed's training split, from its initial weights: each test's (lrs, raw losses). `order`: the
    batch orders' seed (None: `seed`)."""
    curve = lr_find(
        compiled(problem, seed, optimizer(kind)),
        *split_[0],
        batch_size=PROBLEMS[problem].batch,
        verbose=0,
        seed=seed if order is None else order,
        repeats=repeats,
    ).curve
    return [(run.lrs, run.raw_losses) for run in curve.runs or [curve]]


def seed_curve(runs):
    "One seed's LR test as the package reads it, from its tests' (lrs, raw losses): their median when repeated."
    curves = [Curve(lrs, raw) for lrs, raw in runs]
    return curves[0] if len(curves) == 1 else Curve.median(curves)


ONE_CYCLES = (('SGD', 'sgd', 'nesterov'), ('Adam', 'adam', 'adam'))  # label, grid, optimizer
FOR_THE_BUDGET = {label: f'one-cycle {label}, suggested for the budget' for label, _, _ in ONE_CYCLES}
# the shapes the field moved to, with AdamW at one-cycle Adam's suggested peak (the same LR test): name -> optimizer
SHAPES_AT_SUGGESTION = {
    'AdamW + warm-up cosine, suggested peak': 'adamw_cosine',
    'AdamW + WSD (1-sqrt, 20% cool-down), suggested peak': 'adamw_wsd',
    'AdamW + linear to zero, suggested peak': 'adamw_linear',
}
ADAMW_TUNED, ADAMW_UNTUNED = (
    'AdamW + warm-up cosine, best peak',
    f'AdamW + warm-up cosine, peak {UNTUNED_PEAK:g} (untuned)',
)
SCHEDULE_FREE_TUNED, SCHEDULE_FREE_UNTUNED = 'schedule-free AdamW, best LR', 'schedule-free AdamW, defaults'


def race(
    problem,
    seeds=3,
    budgets=(32, 64, 128, 256, 512),
    coarse=False,
    first_seed=0,
    shapes=False,
    one_cycle_only=False,
    suggested_only=False,
):
    """Every contestant's (val, test, finite) per setting, seed and budget, the suggestions, the LR tests' curves and
    their lengths: a dict. `coarse`: only the whole decades of every grid (and the untuned defaults); `shapes`: the
    SHAPES_AT_SUGGESTION contestants too; `one_cycle_only`: only the one-cycle contestants (long budgets);
    `suggested_only`: only the LR tests and one-cycle at their suggestion (to add --add-confirmed to, without grids)."""
    # coarse: the whole decades of each grid, and the untuned defaults
    decades = lambda grid: (
        tuple(lr for lr in grid if float(np.log10(lr)).is_integer() or lr in (UNTUNED_PEAK, SCHEDULE_FREE_DEFAULT))
        if coarse
        else grid
    )
    one_cycle_grids = {kind: decades(grid) for kind, grid in ONE_CYCLE_GRID.items()}
    constant_lr_grids = (
        ('Adam, best constant LR', 'adam', ADAM_GRID),
        ('SGD, best constant LR', 'sgd', SGD_GRID),
        (SCHEDULE_FREE_TUNED, 'schedule_free', SCHEDULE_FREE_GRID),
    )
    adamw_grid = decades(ADAMW_COSINE_GRID)
    if one_cycle_only or suggested_only:  # no baselines
        constant_lr_grids, adamw_grid = (), ()
    if suggested_only:  # no one-cycle grids either
        one_cycle_grids = {kind: () for kind in one_cycle_grids}
    runs, suggestions, curves = {}, {'sgd': [], 'adam': []}, {'sgd': [], 'adam': []}
    seed_list = list(range(first_seed, first_seed + seeds))
    record = lambda name, setting, results: runs.setdefault(name, {}).setdefault(setting, {}).update(results)
    for seed in seed_list:
        split_ = split(problem, seed)
        for name, kind, grid in constant_lr_grids:
            for lr, by_budget in anytime_runs(problem, kind, decades(grid), split_, budgets, seed).items():
                record(name, lr, {(seed, b): r for b, r in by_budget.items()})
        for lr in adamw_grid:
            record(
                ADAMW_TUNED, lr, {(seed, b): budget_run(problem, 'adamw_cosine', lr, split_, b, seed) for b in budgets}
            )
        for label, kind, opt_kind in ONE_CYCLES:
            curves[kind].append(lr_test(problem, opt_kind, split_, seed))
            suggestion = seed_curve(curves[kind][-1]).suggestion()  # the default
            suggestions[kind].append(suggestion)
            record(
                f'one-cycle {label}, suggested',
                'suggested',
                {
                    (seed, b): budget_run(problem, opt_kind, suggestion, split_, b, seed, one_cycle=True)
                    for b in budgets
                },
            )
            for lr in one_cycle_grids[kind]:
                record(
                    f'one-cycle {label}, best grid max_lr',
                    lr,
                    {(seed, b): budget_run(problem, opt_kind, lr, split_, b, seed, one_cycle=True) for b in budgets},
                )
        if shapes:
            shapes_at_suggestion(runs, problem, split_, seed, suggestions['adam'][-1], budgets)
    # the untuned contestants are the tuned ones' runs at the default setting
    if not (one_cycle_only or suggested_only):
        runs[ADAMW_UNTUNED] = {UNTUNED_PEAK: runs[ADAMW_TUNED][UNTUNED_PEAK]}
        runs[SCHEDULE_FREE_UNTUNED] = {SCHEDULE_FREE_DEFAULT: runs[SCHEDULE_FREE_TUNED][SCHEDULE_FREE_DEFAULT]}
    finder_steps = {kind: [sum(len(lrs) for lrs, _ in runs) for runs in by_seed] for kind, by_seed in curves.items()}
    return dict(
        problem=problem,
        seeds=seed_list,
        budgets=budgets,
        coarse=coarse,
        runs=runs,
        suggestions=suggestions,
        curves=curves,
        finder_steps=finder_steps,
        test_size=len(split_[2][1]),
        classes=len(np.unique(split_[2][1])),
    )


def shapes_at_suggestion(runs, problem, split_, seed, peak, budgets):
    "Add to `runs` each shape of SHAPES_AT_SUGGESTION with AdamW at `peak` (one-cycle Adam's suggestion), for one seed."
    for name, kind in SHAPES_AT_SUGGESTION.items():
        runs.setdefault(name, {}).setdefault('suggested', {}).update(
            {(seed, b): budget_run(problem, kind, peak, split_, b, seed) for b in budgets}
        )


def planned_steps(lrs, maximum_lr=10.0):
    "The LR test's planned steps, from its exp ramp's first two LRs up to lr_find's default `maximum_lr`."
    return 1 + round(float(np.log(maximum_lr / lrs[0]) / np.log(lrs[1] / lrs[0])))


def budget_aware_factor(finder_steps, budget):
    "The candidate rule under test: the suggestion x (LR test steps / budget) ** 0.5, within [10^-0.5, 1]."
    return float(np.clip((finder_steps / budget) ** 0.5, 10**-0.5, 1.0))


def budget_aware_runs(runs, problem, split_, seed, label, opt_kind, lrs, suggestion, budgets):
    """Add to `runs` one-cycle `label` at the suggestion for each budget, for one seed: the suggestion's own run where
    the budget leaves it unchanged (the same run), else a run at the lowered peak."""
    at_suggestion = runs[f'one-cycle {label}, suggested']['suggested']
    for b in budgets:
        factor = budget_aware_factor(planned_steps(lrs), b)
        runs.setdefault(FOR_THE_BUDGET[label], {}).setdefault('suggested', {})[(seed, b)] = (
            at_suggestion[(seed, b)]
            if factor == 1
            else budget_run(problem, opt_kind, suggestion * factor, split_, b, seed, one_cycle=True)
        )


def add_budget_aware(result):
    "A saved race with the FOR_THE_BUDGET contestants run and added (the same splits, seeds, suggestions and curves)."
    for i, seed in enumerate(result['seeds']):
        split_ = split(result['problem'], seed)
        for label, kind, opt_kind in ONE_CYCLES:
            lrs, suggestion = result['curves'][kind][i][0][0], result['suggestions'][kind][i]
            budget_aware_runs(
                result['runs'], result['problem'], split_, seed, label, opt_kind, lrs, suggestion, result['budgets']
            )
    return result


NEIGHBOURHOOD = (0.5, 0.7, 0.85, 1.0, 1.2, 1.4, 2.0)  # multiples of each seed's suggestion


def neighbourhood(result, budgets):
    """How one-cycle's test accuracy varies close to the suggestion: per optimizer and budget, each seed's at the
    NEIGHBOURHOOD multiples of its suggestion (1: the race's own run), and which fall more than 10 points below
    one-cycle at the best grid max_lr of that seed and budget (a collapse, as `collapsed` counts it). Printed."""
    rows = table(result)
    for label, kind, opt_kind in ONE_CYCLES:
        at_suggestion = result['runs'][f'one-cycle {label}, suggested']['suggested']
        grid_name = f'one-cycle {label}, best grid max_lr'
        for b in budgets:
            collapses = 0
            for i, seed in enumerate(result['seeds']):
                split_, suggestion = split(result['problem'], seed), result['suggestions'][kind][i]
                best = result['runs'][grid_name][rows[grid_name][b][0]][(seed, b)][1]
                tests = [
                    at_suggestion[(seed, b)][1]
                    if f == 1
                    else budget_run(result['problem'], opt_kind, f * suggestion, split_, b, seed, one_cycle=True)[1]
                    for f in NEIGHBOURHOOD
                ]
                collapses += sum(test < best - 0.1 for test in tests)
                print(
                    f"{result['problem']} one-cycle {label}, {b} steps, seed {seed} (suggestion {suggestion:.3g}, "
                    f"best grid {best:.3f}): "
                    + ', '.join(f"{f:g}x {t:.3f}{'*' if t < best - 0.1 else ''}" for f, t in zip(NEIGHBOURHOOD, tests)),
                    flush=True,
                )
            print(
                f"{result['problem']} one-cycle {label}, {b} steps: {collapses} of "
                f"{len(NEIGHBOURHOOD) * len(result['seeds'])} runs collapsed (*)",
                flush=True,
            )


def batch_orders(result, orders, repeats=3):
    """How one LR test's suggestion depends on its batch order, and what following it gives: per seed, `orders` single
    tests from that seed's initial weights on other batch orders, and one-cycle at each one's suggestion for every
    budget; beside them, over every choice of `repeats` of those tests, the suggestion as the package reads a repeated
    test (the lowest run's) and as their median curve reads. Printed: the suggestions' spread, runs that collapse
    (`collapse`) and the mean difference from one-cycle at the best grid max_lr of that seed and budget."""
    rows, chance, problem = table(result), 1 / result['classes'], result['problem']
    for label, kind, opt_kind in ONE_CYCLES:
        grid_name = f'one-cycle {label}, best grid max_lr'
        readings = ('one test', f'lowest of {repeats} (the default)', f'median curve of {repeats}')
        outcomes = {(reading, b): [] for reading in readings for b in result['budgets']}  # (test - best, collapsed)
        for seed in result['seeds']:
            split_, runs_at = split(problem, seed), {}
            tests = [
                seed_curve(lr_test(problem, opt_kind, split_, seed, repeats=1, order=100 * seed + k))
                for k in range(orders)
            ]
            singles = [test.suggestion() for test in tests]
            choices = list(itertools.combinations(range(orders), repeats))
            median_curves = [Curve.median([tests[k] for k in choice]) for choice in choices]
            suggested = dict(
                zip(
                    readings,
                    (
                        singles,
                        [curve.suggestion() for curve in median_curves],  # the package's reading: the lowest run's
                        [Curve(curve.lrs, curve.raw_losses).suggestion() for curve in median_curves],  # not its runs'
                    ),
                )
            )
            print(
                f"{problem} one-cycle {label}, seed {seed}: one test's suggestion on {orders} batch orders "
                f"{', '.join(f'{lr:.3g}' for lr in singles)} ({max(singles) / min(singles):.1f}x apart)",
                flush=True,
            )
            for b in result['budgets']:
                best = result['runs'][grid_name][rows[grid_name][b][0]][(seed, b)][1]
                for reading, lrs in suggested.items():
                    for lr in lrs:
                        if (lr, b) not in runs_at:
                            runs_at[(lr, b)] = budget_run(problem, opt_kind, lr, split_, b, seed, one_cycle=True)
                        _, test, finite = runs_at[(lr, b)]
                        outcomes[(reading, b)].append((test - best, collapse(test, finite, chance, best)))
        for b in result['budgets']:
            print(
                f"{problem} one-cycle {label}, {b} steps, against the best grid max_lr: "
                + '; '.join(
                    f"{reading} {np.mean([d for d, _ in found]):+.3f} (worst {min(d for d, _ in found):+.3f}), "
                    f"{sum(c for _, c in found)} of {len(found)} collapsed"
                    for reading in readings
                    for found in [outcomes[(reading, b)]]
                ),
                flush=True,
            )


PROBE_STEPS = 128  # confirm_max_lr's default: the longest probe
SCORED_ON = {False: 'rows held out of the training split', True: 'the validation split'}  # by on_validation
CONFIRMED = {label: f'one-cycle {label}, suggested + confirmed' for label, _, _ in ONE_CYCLES}


def confirmed_run(problem, opt_kind, suggestion, split_, budget, seed, on_validation=False, refinements=None):
    """((val, test, finite), probes): one-cycle at the max_lr `confirm_max_lr` picks around `suggestion` for this
    budget, as `OneCycleLR(max_lr=finder)` runs the probes (on the training split the LR test ran on, scored on 16
    batches of it held out of their training, or `on_validation`: on the whole training split, scored on the
    validation split; `refinements`: confirm_max_lr's, None its default), and the `MaxLRProbes` it returned."""
    train, batch = split_[0], PROBLEMS[problem].batch
    probes = confirm_max_lr(
        compiled(problem, seed, optimizer(opt_kind)),
        *train,
        suggestion=suggestion,
        total_steps=budget,
        batch_size=batch,
        probe_steps=PROBE_STEPS,
        validation_data=split_[1] if on_validation else None,
        refinements=refinements,
        verbose=0,
        seed=seed,
    )
    return budget_run(problem, opt_kind, probes.max_lr, split_, budget, seed, one_cycle=True), probes


def add_confirmed(result, on_validation=False, refinements=None):
    """A race with the CONFIRMED contestants run and added (the same splits, seeds and suggestions); their picks, the
    steps their probes took and each probe's loss, its standard error above the best and its accuracy on the rows
    scored (by max_lr) too; `on_validation`: the probes score on the validation split (see `confirmed_run`)."""
    result['probes_scored_on'] = SCORED_ON[on_validation]
    picks, probe_steps = result.setdefault('confirmed_max_lr', {}), result.setdefault('confirmed_probe_steps', {})
    probe_losses, probe_errors, probe_metrics = (
        result.setdefault(key, {})
        for key in ('confirmed_probe_losses', 'confirmed_probe_errors', 'confirmed_probe_metrics')
    )
    for i, seed in enumerate(result['seeds']):
        split_ = split(result['problem'], seed)
        for label, kind, opt_kind in ONE_CYCLES:
            for b in result['budgets']:
                run, probes = confirmed_run(
                    result['problem'],
                    opt_kind,
                    suggestion=result['suggestions'][kind][i],
                    split_=split_,
                    budget=b,
                    seed=seed,
                    on_validation=on_validation,
                    refinements=refinements,
                )
                result['runs'].setdefault(CONFIRMED[label], {}).setdefault('suggested', {})[(seed, b)] = run
                picks.setdefault(kind, {})[f'{seed},{b}'] = probes.max_lr
                probe_steps.setdefault(kind, {})[f'{seed},{b}'] = probes.steps
                probe_losses.setdefault(kind, {})[f'{seed},{b}'] = {str(lr): loss for lr, loss in probes.losses.items()}
                probe_errors.setdefault(kind, {})[f'{seed},{b}'] = {
                    str(lr): e for lr, e in probes.standard_errors.items()
                }
                probe_metrics.setdefault(kind, {})[f'{seed},{b}'] = {str(lr): m for lr, m in probes.metrics.items()}
    return result


def every_probe(result, budgets):
    """A race with --add-confirmed's probes, and one-cycle trained at every max_lr they tried at these budgets, so that
    any rule that picks from the probes' losses can be judged offline against the test accuracy its pick gets: per kind
    and 'seed,budget', {max_lr: (val, test, finite)} in `probe_runs` (the suggestion's and the pick's runs, and those a
    loaded race already has, are reused)."""
    by_kind = result.setdefault('probe_runs', {})
    for seed in result['seeds']:
        split_ = split(result['problem'], seed)
        for label, kind, opt_kind in ONE_CYCLES:
            for b in [b for b in result['budgets'] if b in budgets]:
                key = f'{seed},{b}'
                ran = {  # max_lr -> the run the race already has there
                    **{float(lr): run for lr, run in by_kind.get(kind, {}).get(key, {}).items()},
                    result['confirmed_max_lr'][kind][key]: result['runs'][CONFIRMED[label]]['suggested'][(seed, b)],
                    result['suggestions'][kind][result['seeds'].index(seed)]: result['runs'][
                        f'one-cycle {label}, suggested'
                    ]['suggested'][(seed, b)],
                }
                by_kind.setdefault(kind, {})[key] = {
                    lr: list(
                        ran.get(float(lr))
                        or budget_run(result['problem'], opt_kind, float(lr), split_, b, seed, one_cycle=True)
                    )
                    for lr in result['confirmed_probe_losses'][kind][key]
                }
    return result


def best_probe_accuracy(probes, runs):
    "The probe with the best accuracy on the rows they were scored on, the lower loss among equals; None if not kept."
    if not probes.metrics:
        return None  # a race saved before the probes kept their metrics
    finite = [lr for lr, loss in probes.losses.items() if math.isfinite(loss)]
    return max(finite, key=lambda lr: (probes.metrics[lr]['accuracy'], -probes.losses[lr]))


def half_decade_probes(probes, runs):
    """The lowest loss of the probes half a decade apart (from the lowest, which always is one): the package's pick
    without its refinements."""
    apart = lambda lr: 2 * math.log10(lr / min(probes.losses))
    halves = {lr: loss for lr, loss in probes.losses.items() if abs(apart(lr) - round(apart(lr))) < 1e-6}
    return min(sorted(halves), key=halves.get)


def grid_at_probes(probes, runs):
    "The max_lr whose run has the best validation accuracy: what a grid over the probes' points, tuned on validation, keeps."
    return max(runs, key=lambda lr: runs[lr][0])


def oracle(probes, runs):
    "The max_lr whose run tests best: out of reach of any rule."
    return max(runs, key=lambda lr: runs[lr][1])


# rules that pick a max_lr from the probes, judged by --every-probe: name -> f(the probes as `confirm_max_lr` returned
# them, a `MaxLRProbes`; the runs at every probe, {max_lr: (val, test, finite)}) -> the max_lr picked (None: the saved
# race lacks what the rule reads)
PROBE_PICKS = {
    'lowest loss of the probes (the package)': lambda probes, runs: probes.max_lr,
    'lowest loss of the half-decade probes (no refinement)': half_decade_probes,
    'lowest max_lr within 1 SE of it': lambda probes, runs: min(probes.ties),
    'best accuracy of the probes': best_probe_accuracy,
    'best validation accuracy (a grid at the probes)': grid_at_probes,
    'best test accuracy (the oracle)': oracle,
}


def saved_probes(result, kind, key):
    "The `MaxLRProbes` a race kept for one optimizer and 'seed,budget' (its JSON keys the max_lr as strings)."
    by_lr = lambda saved: {float(lr): value for lr, value in saved.items()}
    return MaxLRProbes(
        result['confirmed_max_lr'][kind][key],
        by_lr(result['confirmed_probe_losses'][kind][key]),
        result['confirmed_probe_steps'][kind][key],
        by_lr(result['confirmed_probe_errors'][kind][key]),
        by_lr(result.get('confirmed_probe_metrics', {}).get(kind, {}).get(key, {})),  # older races kept none
    )


def probe_picks(result):
    """Per optimizer and budget, the median test accuracy (and each seed's, with the pick's multiple of the suggestion)
    of one-cycle at each PROBE_PICKS rule's pick; then per rule, over every optimizer, budget and seed: how often it
    picked the probe that tested best, how far below that probe's test accuracy it fell (mean and worst), and how far
    from the probe a validation grid over the same points keeps (mean)."""
    lines = [f"probes scored on {result.get('probes_scored_on', SCORED_ON[False])}"] if 'probe_runs' in result else []
    shortfalls = {}  # rule -> [(best probe's test - pick's, pick's test - the validation grid's)]
    width = max(map(len, PROBE_PICKS))
    for label, kind, _ in ONE_CYCLES:
        runs_by_key = result.get('probe_runs', {}).get(kind, {})
        for b in sorted({int(key.split(',')[1]) for key in runs_by_key}):
            cases = []  # per seed: (the probes, their runs, the seed's suggestion)
            for seed in result['seeds']:
                if (key := f'{seed},{b}') in runs_by_key:
                    runs = {float(lr): run for lr, run in runs_by_key[key].items()}
                    suggestion = result['suggestions'][kind][result['seeds'].index(seed)]
                    cases.append((saved_probes(result, kind, key), runs, suggestion))
            for name, pick in PROBE_PICKS.items():
                picks = [pick(probes, runs) for probes, runs, _ in cases]
                if None in picks:
                    continue  # the saved race lacks what this rule reads
                tests = [runs[lr][1] for lr, (_, runs, _) in zip(picks, cases)]
                shortfalls.setdefault(name, []).extend(
                    (runs[oracle(probes, runs)][1] - test, test - runs[grid_at_probes(probes, runs)][1])
                    for test, (probes, runs, _) in zip(tests, cases)
                )
                lines.append(
                    f"one-cycle {label:4s} {b:4d} steps  {name:{width}s} {np.median(tests):.3f}  per seed "
                    + ' '.join(f'{t:.3f} ({lr / s:.2g}x)' for t, lr, (_, _, s) in zip(tests, picks, cases))
                )
    for name, gaps in shortfalls.items():
        below_best, over_grid = np.array(gaps).T
        lines.append(
            f"{name:{width}s} picked the best probe in {np.sum(below_best == 0)} of {len(gaps)}, "
            f"{below_best.mean():.4f} below it (worst {below_best.max():.3f}), {over_grid.mean():+.4f} vs a validation grid"
        )
    return '\n'.join(lines)


def add_shapes(result):
    "A saved race with the SHAPES_AT_SUGGESTION contestants run and added (the same splits, seeds and suggestions)."
    for seed, peak in zip(result['seeds'], result['suggestions']['adam']):
        shapes_at_suggestion(
            result['runs'], result['problem'], split(result['problem'], seed), seed, peak, result['budgets']
        )
    return result


def table(result):
    "Per contestant and budget: (picked setting, median test accuracy), the setting picked on mean validation accuracy."
    rows = {}
    for name, by_setting in result['runs'].items():
        rows[name] = {}
        for b in result['budgets']:
            val = {s: np.mean([r[(seed, b)][0] for seed in result['seeds']]) for s, r in by_setting.items()}
            best = max(val, key=val.get)
            rows[name][b] = (best, float(np.median([by_setting[best][(seed, b)][1] for seed in result['seeds']])))
    return rows


def collapse(test, finite, chance, reference=None):
    "Whether a run collapsed: a non-finite loss, a test accuracy within 0.1 of chance, or 10 points below `reference`."
    return not finite or test < chance + 0.1 or (reference is not None and test < reference - 0.1)


def collapsed(result, rows):
    """Per contestant, the (seed, budget) runs at its picked setting that collapsed: a non-finite training loss, a test
    accuracy within 0.1 of chance, or (one-cycle at the suggestion) more than 10 points below one-cycle at the best grid
    max_lr of the same seed and budget."""
    chance, out = 1 / result['classes'], {}
    for name, by_budget in rows.items():
        out[name] = []
        for b, (setting, _) in by_budget.items():
            for seed in result['seeds']:
                _, test, finite = result['runs'][name][setting][(seed, b)]
                reference = None
                grid_name = name.split(', suggested')[0] + ', best grid max_lr'
                if name.startswith('one-cycle') and ', suggested' in name and grid_name in rows:
                    reference = result['runs'][grid_name][rows[grid_name][b][0]][(seed, b)][1]
                if collapse(test, finite, chance, reference):
                    out[name].append((seed, b))
    return out


def tuning_steps(result, name, budget):
    """Steps a contestant spends choosing its setting: the whole grid's other runs for a grid-tuned one, the LR test for
    a suggestion, and the probes it ran for a confirmed one (medians over seeds)."""
    if 'suggested' in name:
        kind = 'sgd' if 'SGD' in name else 'adam'
        probe_steps = result['confirmed_probe_steps'][kind] if 'confirmed' in name else {}
        probes = np.median([probe_steps[f'{seed},{budget}'] for seed in result['seeds']]) if probe_steps else 0
        return int(np.median(result['finder_steps'][kind]) + probes)
    return (len(result['runs'][name]) - 1) * budget  # each as long as the chosen run


def best_over_suggestion(result, label, kind):
    "Per budget, the median over seeds of each seed's best grid max_lr (on validation) divided by its suggestion."
    grid = result['runs'][f'one-cycle {label}, best grid max_lr']
    ratios = {}
    for b in result['budgets']:
        per_seed = [
            max(grid, key=lambda lr: grid[lr][(seed, b)][0]) / suggestion
            for seed, suggestion in zip(result['seeds'], result['suggestions'][kind])
        ]
        ratios[b] = float(np.median(per_seed))
    return ratios


def noise(p, n):
    return float(np.sqrt(p * (1 - p) / n))


def save(results, path):
    "Every run of `results` as JSON (settings and (seed, budget) keys as strings), for analysis without running again."
    import json

    plain = [
        dict(
            result,
            runs={
                name: {
                    str(setting): {f'{seed},{b}': r for (seed, b), r in by.items()}
                    for setting, by in by_setting.items()
                }
                for name, by_setting in result['runs'].items()
            },
            curves={
                kind: [[[lrs.tolist(), raw.tolist()] for lrs, raw in runs] for runs in by_seed]
                for kind, by_seed in result['curves'].items()
            },
        )
        for result in results
    ]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(plain))


def _runs(saved):
    "A seed's saved LR tests as [(lrs, raw losses), ...]; races saved before tests were repeated hold one (lrs, smoothed, raw)."
    return [(saved[0], saved[2])] if np.ndim(saved[0]) == 1 and len(saved) == 3 else saved


def load(path):
    "The results `save` wrote, as `race` returns them."
    import json

    setting = lambda key: key if key == 'suggested' else float(key)
    seed_budget = lambda key: tuple(map(int, key.split(',')))
    return [
        dict(
            result,
            budgets=tuple(result['budgets']),
            runs={
                name: {setting(k): {seed_budget(sb): tuple(r) for sb, r in by.items()} for k, by in by_setting.items()}
                for name, by_setting in result['runs'].items()
            },
            curves={
                kind: [[(np.array(lrs), np.array(raw)) for lrs, raw in _runs(saved)] for saved in by_seed]
                for kind, by_seed in result['curves'].items()
            },
        )
        for result in json.loads(Path(path).read_text())
    ]


def merge(results):
    """Races of the same problem and budgets run over other seeds (`--first-seed`, one file each) as one race, in the
    order given; their grids must match and their seeds must differ. Races over other budgets stay apart."""
    merged = {}
    for result in results:
        into = merged.setdefault(
            (result['problem'], tuple(result['budgets'])),
            {
                **result,
                'seeds': [],
                'runs': {},
                'suggestions': {},
                'curves': {},
                'finder_steps': {},
                'confirmed_max_lr': {},
                'confirmed_probe_steps': {},
                'confirmed_probe_losses': {},
                'confirmed_probe_errors': {},
                'confirmed_probe_metrics': {},
                'probe_runs': {},
            },
        )
        scored_on = lambda race: race.get('probes_scored_on', SCORED_ON[False])
        if (into['coarse'], scored_on(into)) != (result['coarse'], scored_on(result)):
            raise ValueError(f"{result['problem']}: races with other grids or probes' scores cannot be merged")
        if set(into['seeds']) & set(result['seeds']):
            raise ValueError(
                f"{result['problem']}: seeds {sorted(set(into['seeds']) & set(result['seeds']))} are in two races"
            )
        into['seeds'] = into['seeds'] + list(result['seeds'])
        for name, by_setting in result['runs'].items():
            for setting, by in by_setting.items():
                into['runs'].setdefault(name, {}).setdefault(setting, {}).update(by)
        for key in ('suggestions', 'curves', 'finder_steps'):
            for kind, by_seed in result[key].items():
                into[key][kind] = into[key].get(kind, []) + list(by_seed)
        for key in (
            'confirmed_max_lr',
            'confirmed_probe_steps',
            'confirmed_probe_losses',
            'confirmed_probe_errors',
            'confirmed_probe_metrics',
            'probe_runs',
        ):
            for kind, by_seed_budget in result.get(key, {}).items():  # keyed 'seed,budget'
                into[key].setdefault(kind, {}).update(by_seed_budget)
    return list(merged.values())


def report(result):
    rows, budgets, n = table(result), result['budgets'], result['test_size']
    # a one-cycle-only race has no AdamW, a suggested-only one no grid either
    reference = rows.get(ADAMW_TUNED) or rows.get('one-cycle SGD, best grid max_lr') or rows['one-cycle SGD, suggested']
    target = max(acc for _, acc in reference.values()) if ADAMW_TUNED in rows else None
    target_noise = target and noise(target, n)
    down = collapsed(result, rows)
    lines = [
        f"{PROBLEMS[result['problem']].description}, batch {PROBLEMS[result['problem']].batch}; median test accuracy of {len(result['seeds'])} seeds "
        f"(test split {n} digits); settings picked per budget on validation"
        + ("; grids of whole decades (--coarse)" if result['coarse'] else ''),
        f"suggested max_lr per seed: one-cycle SGD {', '.join(f'{lr:.3g}' for lr in result['suggestions']['sgd'])}; "
        f"one-cycle Adam {', '.join(f'{lr:.3g}' for lr in result['suggestions']['adam'])}; "
        f"LR test steps: {int(np.median(result['finder_steps']['sgd']))}",
        f"target: the tuned AdamW + warm-up cosine's best, {target:.3f} (noise ±{target_noise:.3f}; a shortfall within it counts as reached)"
        if target
        else "(one-cycle contestants only: no target)",
        f"{'steps':>44s} "
        + ' '.join(f'{b:>7d}' for b in budgets)
        + f"   {'reached at':>10s} {'+ tuning':>9s}   collapsed (seed, steps)",
    ]
    for name, by_budget in rows.items():
        reached = target and next((b for b in budgets if by_budget[b][1] >= target - target_noise), None)
        with_tuning = f"{reached + tuning_steps(result, name, reached)}" if reached else '-'
        lines.append(
            f"{name:>44s} "
            + ' '.join(f'{acc:7.3f}' for _, acc in by_budget.values())
            + f"   {reached or ('never' if target else '-'):>10} {with_tuning:>9s}   {', '.join(map(str, down[name])) or 'none'}"
        )
    lines.append(
        f"{'noise (binomial SE of one accuracy)':>44s} "
        + ' '.join(f'{noise(reference[b][1], n):7.3f}' for b in budgets)
    )
    for name, by_setting in result['runs'].items():
        if len(by_setting) < 2:
            continue
        grid, picks = sorted(by_setting), [rows[name][b][0] for b in budgets]
        edge = [f'{p:g}' for p in picks if p in (grid[0], grid[-1])]
        lines.append(
            f"{name}: picked {', '.join(f'{p:g}' for p in picks)} from {grid[0]:g}-{grid[-1]:g}"
            + (f" (at the grid's edge: {', '.join(edge)})" if edge else '')
        )
    for label, kind, _ in ONE_CYCLES:
        picks = result.get('confirmed_max_lr', {}).get(kind)
        if picks:
            lines.append(
                f"{CONFIRMED[label]}: picked max_lr as multiples of each seed's suggestion (probes run): "
                + '; '.join(
                    f"{b} steps "
                    + ', '.join(
                        f"{picks[f'{seed},{b}'] / suggestion:.2g}"
                        + f" ({result['confirmed_probe_steps'][kind][f'{seed},{b}'] // min(b, PROBE_STEPS)})"
                        for seed, suggestion in zip(result['seeds'], result['suggestions'][kind])
                    )
                    for b in result['budgets']
                )
            )
        if f'one-cycle {label}, best grid max_lr' not in rows:  # a suggested-only race
            continue
        ratios = best_over_suggestion(result, label, kind)
        lines.append(
            f"one-cycle {label}: each seed's best grid max_lr (on validation) over its suggestion, median: "
            + ', '.join(f'{b} steps {r:.2g}x' for b, r in ratios.items())
        )
    for label, name in [(label, f'one-cycle {label}, suggested') for label, _, _ in ONE_CYCLES] + [
        (label, name) for named in (FOR_THE_BUDGET, CONFIRMED) for label, name in named.items() if name in rows
    ]:
        per_seed = [
            ' '.join(f"{result['runs'][name]['suggested'][(seed, b)][1]:.3f}" for b in budgets)
            for seed in result['seeds']
        ]
        lines.append(f"{name}, test accuracy per seed: " + '; '.join(per_seed))
        if f'one-cycle {label}, best grid max_lr' not in rows:  # a suggested-only race
            continue
        suggested, best = rows[name], rows[f'one-cycle {label}, best grid max_lr']
        verdict = [
            'tie'
            if abs(suggested[b][1] - best[b][1]) <= noise(best[b][1], n)
            else 'better'
            if suggested[b][1] > best[b][1]
            else 'WORSE'
            for b in budgets
        ]
        lines.append(
            f"{name} vs best grid max_lr ({', '.join(f'{best[b][0]:g}' for b in budgets)}): " + ', '.join(verdict)
        )
    return '\n'.join(lines)


LEAD = (
    'one-cycle Adam, suggested',
    'one-cycle SGD, suggested',
    ADAMW_TUNED,
    ADAMW_UNTUNED,
    SCHEDULE_FREE_UNTUNED,
    SCHEDULE_FREE_TUNED,
    'Adam, best constant LR',
)


def reaching(result, rows, name):
    "(the target, the first budget reaching it or None, that budget plus the tuning's steps, the collapsed runs)."
    target = max(acc for _, acc in rows[ADAMW_TUNED].values())
    reached = next(
        (b for b in result['budgets'] if rows[name][b][1] >= target - noise(target, result['test_size'])), None
    )
    return target, reached, reached and reached + tuning_steps(result, name, reached), collapsed(result, rows)[name]


def markdown(results):
    "The README's tables: steps to the target per contestant and problem (then with tuning), then each problem's accuracies."
    tables = [table(result) for result in results]
    lines = [
        '| contestant | '
        + ' | '.join(
            f"{r['problem']}: reaches {reaching(r, t, ADAMW_TUNED)[0]:.3f} at (with tuning)"
            for r, t in zip(results, tables)
        )
        + ' | collapsed runs |',
        '|---|' + '---|' * (len(results) + 1),
    ]
    optional = [*FOR_THE_BUDGET.values(), *CONFIRMED.values(), *SHAPES_AT_SUGGESTION]
    for name in [*LEAD, *(name for name in optional if any(name in r['runs'] for r in results))]:
        cells, down, runs = [], 0, 0
        for result, rows in zip(results, tables):
            if name not in rows:  # a contestant added to some of the races only (--shapes, --add-confirmed)
                cells.append('not run')
                continue
            _, reached, with_tuning, fell = reaching(result, rows, name)
            cells.append(f'{reached} ({with_tuning})' if reached else 'never')
            down, runs = down + len(fell), runs + len(result['seeds']) * len(result['budgets'])
        lines.append(f'| {name} | ' + ' | '.join(cells) + f' | {down} of {runs} |')
    for result, rows in zip(results, tables):
        n, budgets = result['test_size'], result['budgets']
        lines += [
            '',
            f"**{PROBLEMS[result['problem']].description}** (batch {PROBLEMS[result['problem']].batch}, "
            f"{len(result['seeds'])} seeds, median test accuracy on {n} digits)",
            '',
            '| steps | ' + ' | '.join(map(str, budgets)) + ' |',
            '|---|' + '---|' * len(budgets),
        ]
        for name, by_budget in rows.items():
            lines.append(f'| {name} | ' + ' | '.join(f'{acc:.3f}' for _, acc in by_budget.values()) + ' |')
        lines.append(
            '| noise (binomial SE of one accuracy) | '
            + ' | '.join(f'{noise(rows[ADAMW_TUNED][b][1], n):.3f}' for b in budgets)
            + ' |'
        )
    return '\n'.join(lines)


def plot(results, path):
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6.5 * len(results), 4), squeeze=False)
    for ax, result in zip(axes[0], results):
        rows = table(result)
        for name, by_budget in rows.items():
            ax.plot(result['budgets'], [acc for _, acc in by_budget.values()], 'o-', label=name)
        ax.set(
            xscale='log',
            xlabel='optimizer steps (log scale)',
            ylabel='median test accuracy',
            title=PROBLEMS[result['problem']].description,
        )
        ax.minorticks_off()
        ax.set_xticks(result['budgets'], [str(b) for b in result['budgets']])
        ax.grid(alpha=0.3)
        ax.set_ylim(max(0, min(acc for r in rows.values() for _, acc in r.values()) - 0.02), 1)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def where_rules_land(results, path):
    """Evidence for the default rule, per problem and optimizer: seed 0's LR test curve with the LR each rule reads off it
    (top), and one-cycle's median test accuracy at each grid max_lr for every budget, with each rule's median pick and,
    as a star, the race's result at the default suggestion (bottom). Races of one problem over other budgets share a
    column, and must have read the same LR tests (the same seeds, on one install)."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    by_problem = {}
    for result in results:
        by_problem.setdefault(result['problem'], []).append(result)
    for problem, races in by_problem.items():
        if any(one_race['suggestions'] != races[0]['suggestions'] for one_race in races[1:]):
            raise ValueError(f"{problem}: races over other budgets must share their seeds' LR tests to share a column")
    columns = [(races, kind) for races in by_problem.values() for kind in ('sgd', 'adam')]
    fig, axes = plt.subplots(2, len(columns), figsize=(4.2 * len(columns), 7), squeeze=False)
    for (curve_ax, race_ax), (races, kind) in zip(axes.T, columns):
        label, result = {'sgd': 'SGD', 'adam': 'Adam'}[kind], races[0]
        seed_curves = [seed_curve(runs) for runs in result['curves'][kind]]
        picks = {m: float(np.median([curve.suggestion(m) for curve in seed_curves])) for m in SUGGESTION_RULES}
        lrs, losses, raw = seed_curves[0].lrs, seed_curves[0].losses, seed_curves[0].raw_losses
        curve_ax.plot(lrs, raw, color='0.8', linewidth=0.8, label='batch losses')
        curve_ax.plot(lrs, losses, color='C0', label='smoothed')
        finite = raw[np.isfinite(raw)]
        curve_ax.set(
            xscale='log',
            ylim=(0.9 * finite.min(), min(finite.max(), 3 * np.median(finite))),
            title=f"{result['problem']}: one-cycle {label}",
            xlabel='learning rate',
        )
        for one_race in races:
            by_setting = one_race['runs'][f'one-cycle {label}, best grid max_lr']
            grid = sorted(by_setting)
            for budget in one_race['budgets']:
                (line,) = race_ax.plot(
                    grid,
                    [np.median([by_setting[lr][(seed, budget)][1] for seed in one_race['seeds']]) for lr in grid],
                    'o-',
                    label=f'{budget} steps',
                )
                suggested = one_race['runs'][f'one-cycle {label}, suggested']['suggested']
                race_ax.plot(
                    [picks['one_cycle']],
                    [np.median([suggested[(seed, budget)][1] for seed in one_race['seeds']])],
                    '*',
                    color=line.get_color(),
                    markersize=12,
                )
        race_ax.set(xscale='log', xlabel='max_lr', ylabel='median test accuracy')
        race_ax.set_ylim(max(0, race_ax.get_ylim()[0]), 1)
        for ax in (curve_ax, race_ax):
            for m, lr in picks.items():
                ax.axvline(
                    lr,
                    color=SUGGESTION_RULES[m].colour,
                    linestyle='--' if m != 'one_cycle' else '-',
                    label=f'{m}: {lr:.2g}',
                )
        curve_ax.legend(fontsize=7)
        race_ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--problems',
        nargs='+',
        default=['mlp', 'cnn'],
        choices=list(PROBLEMS),
        help='mobilenet takes about an hour on 2 cores: ask for it by name',
    )
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument(
        '--first-seed', type=int, default=0, help='the first seed (run seeds apart, then --load their files together)'
    )
    parser.add_argument('--budgets', type=int, nargs='+', default=[32, 64, 128, 256, 512])
    parser.add_argument(
        '--coarse', action='store_true', help="every grid: whole decades only (and the untuned defaults)"
    )
    parser.add_argument('--quick', action='store_true', help='3 budgets, 2 seeds, --coarse: for CI')
    parser.add_argument(
        '--save', default=None, help='write every run, suggestion and curve as JSON here (e.g. bench/out/race.json)'
    )
    parser.add_argument('--plot', default=None, help='write accuracy against steps as a PNG here')
    parser.add_argument(
        '--rules-plot',
        default=None,
        help='write where each suggestion rule lands (curves and accuracy against max_lr) as a PNG here',
    )
    parser.add_argument(
        '--load',
        nargs='+',
        default=None,
        help='report, and plot, the races saved in these files by --save instead of running them (seeds run apart merge)',
    )
    parser.add_argument('--markdown', action='store_true', help="print the README's tables at the end")
    parser.add_argument(
        '--shapes',
        action='store_true',
        help='race AdamW with warm-up cosine, WSD and linear-to-zero at the suggested peak too',
    )
    parser.add_argument(
        '--add-confirmed',
        action='store_true',
        help='run one-cycle at the suggestion confirmed by confirm_max_lr (per budget) and add it to the races',
    )
    parser.add_argument(
        '--confirm-on-validation',
        action='store_true',
        help="with --add-confirmed: the probes train on the whole training split and score on the validation split "
        "(`validation_data`), not on rows held out of the training split",
    )
    parser.add_argument(
        '--refinements',
        type=int,
        default=None,
        help="with --add-confirmed: confirm_max_lr's quarter-decade probes (default: the package's, 1 on the validation "
        'split, 0 on held-out rows)',
    )
    parser.add_argument(
        '--one-cycle-only', action='store_true', help='only the one-cycle contestants (for long budgets, e.g. 1024)'
    )
    parser.add_argument(
        '--suggested-only',
        action='store_true',
        help='only the LR tests and one-cycle at their suggestion (with --add-confirmed: the probes without any grid)',
    )
    parser.add_argument(
        '--add-budget-aware',
        action='store_true',
        help='run one-cycle at the budget-aware candidate reading of the suggestion and add it to the races',
    )
    parser.add_argument(
        '--neighbourhood',
        type=int,
        nargs='+',
        default=None,
        help='with --load: one-cycle at 0.5-2x each seed\'s suggestion at these budgets (how much it varies there)',
    )
    parser.add_argument(
        '--batch-orders',
        type=int,
        default=None,
        help="with --load: this many single LR tests per seed on other batch orders, one-cycle at each one's suggestion",
    )
    parser.add_argument(
        '--every-probe',
        type=int,
        nargs='+',
        default=None,
        help="with --add-confirmed (or --load of a race with its probes): one-cycle at every probe's max_lr at these "
        'budgets, and the test accuracy each rule that picks from the probes would get',
    )
    parser.add_argument(
        '--add-shapes',
        action='store_true',
        help='with --load: run those shapes and add them to the loaded races (keep with --save)',
    )
    a = parser.parse_args()
    if a.markdown and (a.one_cycle_only or a.suggested_only):
        parser.error(
            "--markdown prints the README's tables, which measure everything against the tuned AdamW: "
            "it cannot go with --one-cycle-only or --suggested-only"
        )
    budgets, seeds = ((32, 128, 512), 2) if a.quick else (tuple(a.budgets), a.seeds)
    start, results = time.perf_counter(), merge([r for path in a.load for r in load(path)]) if a.load else []
    if a.add_shapes:
        results = [add_shapes(result) for result in results]
    if a.add_budget_aware and a.load:
        results = [add_budget_aware(result) for result in results]
    if a.add_confirmed and a.load:
        results = [add_confirmed(result, a.confirm_on_validation, a.refinements) for result in results]
    if a.every_probe and a.load:
        results = [every_probe(result, a.every_probe) for result in results]
    for result in results if a.neighbourhood else []:
        neighbourhood(result, a.neighbourhood)
    for result in results if a.batch_orders else []:
        batch_orders(result, a.batch_orders)
    for result in results:
        print(report(result), '\n')
        print(probe_picks(result), '\n')
    for problem in [] if a.load else a.problems:
        results.append(
            race(
                problem,
                seeds,
                budgets,
                a.quick or a.coarse,
                first_seed=a.first_seed,
                shapes=a.shapes,
                one_cycle_only=a.one_cycle_only,
                suggested_only=a.suggested_only,
            )
        )
        if a.add_budget_aware:
            add_budget_aware(results[-1])
        if a.add_confirmed:
            add_confirmed(results[-1], a.confirm_on_validation, a.refinements)
        if a.every_probe:
            every_probe(results[-1], a.every_probe)
        print(report(results[-1]), f"\n({time.perf_counter() - start:.0f} s so far)\n", flush=True)
        print(probe_picks(results[-1]), '\n', flush=True)
        if a.save:  # after every problem: a later one's failure loses none of the hours before it
            save(results, a.save)
    if a.save and a.load:  # a race run here was saved as each problem ended
        save(results, a.save)
    if a.markdown:
        print(markdown(results))
    if a.plot:
        plot(results, a.plot)
    if a.rules_plot:
        where_rules_land(results, a.rules_plot)
