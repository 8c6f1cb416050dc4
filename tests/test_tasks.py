"""The task registry against the real OLMES request files bundled with taskladder."""

import numpy as np
import pytest

from taskladder.evaluation import bundled_task, bundled_tasks
from taskladder.tasks import ALL_TASKS, REGISTRY, chance


@pytest.mark.parametrize("name", ALL_TASKS)
def test_chance_is_the_mean_of_one_over_the_choices(name):
    # Step 2's sigmoid starts at chance: 1/k for a question of k choices, averaged over
    # the questions OLMES asks (ARC has a few of 3 and 5 choices among its 4-choice ones)
    assert name in bundled_tasks() and f"{name}_mc" in bundled_tasks()
    k = np.array([len(it.choices) for it in bundled_task(name).items])
    assert chance(name) == pytest.approx(np.mean(1 / k), abs=5e-4)
    assert REGISTRY[name].split in ("val", "test")


def test_a_task_outside_the_registry_has_no_registry_chance():
    assert chance("my_task") == 0.0  # chain.Ladder.chance estimates it from the ladder instead
