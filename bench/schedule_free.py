"""Schedule-free AdamW in Keras: is its slow start the algorithm's design, or Keras' implementation?

1. Keras' `ScheduleFreeAdamW` against a NumPy transcription of Defazio et al. (2024), Algorithm 1 (no warm-up, no
   weight decay), for six steps on one variable, on the backend Keras runs on. On TensorFlow and PyTorch (Keras 3.15)
   it differs, by exactly what reading z after its update instead of before gives (`momentum_old = momentum.value`
   aliases the variable there; on JAX it is a snapshot), which the script also replays in NumPy.
2. The race's digits problems (bench/race.py: same splits, initial weights and batches), schedule-free AdamW as Keras
   ships it and with z read before its update (`ReadBeforeWriteScheduleFreeAdamW` below), each at Keras' default LR
   and at the best LR of a grid picked per budget on validation: median test accuracy of 3 seeds, the noise beside.
Run: python bench/schedule_free.py [--problems mlp cnn] [--seeds 3]
"""

import argparse, os, sys
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
import numpy as np
import keras
from keras import ops

sys.path.insert(0, str(Path(__file__).parent))
import race


class ReadBeforeWriteScheduleFreeAdamW(keras.optimizers.ScheduleFreeAdamW):
    "Keras' ScheduleFreeAdamW with z (its `momentum`) read before it is updated, on every backend, as the paper has it."

    def update_step(self, gradient, variable, learning_rate):
        lr, gradient = ops.cast(learning_rate, variable.dtype), ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        beta_1, beta_2 = ops.cast(self.beta_1, variable.dtype), ops.cast(self.beta_2, variable.dtype)
        if self.warmup_steps > 0:
            lr = lr * ops.minimum(step / self.warmup_steps, 1.0)
        index = self._get_variable_index(variable)
        z, velocity = self._momentums[index], self._velocities[index]
        x_old = (variable - (1 - beta_1) * ops.copy(z)) / beta_1  # y = (1 - beta_1) z + beta_1 x, before z moves
        self.assign_add(velocity, (ops.square(gradient) - velocity) * (1 - beta_2))
        self.assign_sub(z, lr * gradient / (ops.sqrt(velocity / (1 - ops.power(beta_2, step))) + self.epsilon))
        x_new = (1 - 1 / step) * x_old + (1 / step) * z
        self.assign(variable, (1 - beta_1) * z + beta_1 * x_new)


def reference(w0, grads, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8, read_after_write=False):
    "y after the steps, in float64: the paper's algorithm, or with z read after its update (`read_after_write`)."
    y = z = w0.astype('float64')
    v = np.zeros_like(y)
    for t, g in enumerate(grads, 1):
        z_old = z
        v = beta_2 * v + (1 - beta_2) * g**2
        z = z - lr * g / (np.sqrt(v / (1 - beta_2**t)) + epsilon)
        x_old = (y - (1 - beta_1) * (z if read_after_write else z_old)) / beta_1
        y = (1 - beta_1) * z + beta_1 * ((1 - 1 / t) * x_old + z / t)
    return y


def check():
    rng = np.random.default_rng(0)
    w0, grads = rng.normal(size=3).astype('float32'), rng.normal(size=(6, 3)).astype('float32')
    for name, cls in (
        ('keras.optimizers.ScheduleFreeAdamW', keras.optimizers.ScheduleFreeAdamW),
        ('read before write (this script)', ReadBeforeWriteScheduleFreeAdamW),
    ):
        variable, optimizer = keras.Variable(w0), cls(0.1)
        for g in grads:
            optimizer.apply_gradients([(ops.convert_to_tensor(g), variable)])
        y = ops.convert_to_numpy(ops.copy(variable.value)).astype('float64')
        print(
            f"{keras.backend.backend()}: {name}, 6 steps at lr 0.1: max |y - paper| = "
            f"{np.abs(y - reference(w0, grads, 0.1)).max():.2g}, max |y - z read after its update| = "
            f"{np.abs(y - reference(w0, grads, 0.1, read_after_write=True)).max():.2g}"
        )


def sf_race(problem, seeds, budgets):
    runs = {}
    for seed in range(seeds):
        split_ = race.split(problem, seed)
        for kind in ('schedule_free', 'schedule_free_read_before_write'):
            for lr, by_budget in race.anytime_runs(
                problem, kind, race.SCHEDULE_FREE_GRID, split_, budgets, seed
            ).items():
                runs.setdefault(kind, {}).setdefault(lr, {}).update({(seed, b): r for b, r in by_budget.items()})
    n = len(split_[2][1])
    print(
        f"{race.PROBLEMS[problem].description}: median test accuracy of {seeds} seeds; steps {', '.join(map(str, budgets))}"
    )
    for kind, by_setting in runs.items():
        for label, settings in (
            ('default LR 2.5e-3', {race.SCHEDULE_FREE_DEFAULT: by_setting[race.SCHEDULE_FREE_DEFAULT]}),
            ('best LR of the grid', by_setting),
        ):
            rows = race.table(dict(runs={kind: settings}, budgets=budgets, seeds=list(range(seeds))))[kind]
            print(
                f"  {kind:>32s}, {label:>19s}: "
                + ' '.join(f'{acc:.3f}' for _, acc in rows.values())
                + f"  (picked {', '.join(f'{s:g}' for s, _ in rows.values())})"
            )
    print(f"  noise (binomial SE at 0.95): {race.noise(0.95, n):.3f}")


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--problems', nargs='+', default=['mlp', 'cnn'], choices=list(race.PROBLEMS))
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--budgets', type=int, nargs='+', default=[32, 64, 128, 256, 512])
    a = parser.parse_args()
    check()
    race.OPTIMIZERS['schedule_free_read_before_write'] = lambda lr, budget: ReadBeforeWriteScheduleFreeAdamW(lr)
    for problem in a.problems:
        sf_race(problem, a.seeds, tuple(a.budgets))
