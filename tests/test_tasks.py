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


@pytest.mark.parametrize("written, key", [
    ("ARC-Challenge", "arc_challenge"), ("Social IQa", "socialiqa"), ("MMLU", "mmlu"), ("arc:easy", "arc_easy"),
    ("commonsense_qa", "csqa"), ("CommonsenseQA", "csqa"), ("siqa", "socialiqa"), ("open-book-qa", "openbookqa"),
    ("piqa", "piqa"), ("sciq", None), ("mmlu_anatomy", None), ("arc_challenge_mc", None)])
def test_a_registry_task_is_known_as_the_tables_print_it_and_as_other_tools_name_it(written, key):
    from taskladder.tasks import registry_name

    assert registry_name(written) == key


def test_a_named_task_resolves_to_the_ladders_own_spelling_only_when_that_is_unambiguous():
    from taskladder.tasks import choose_tasks, resolve

    assert resolve("ARC-Challenge", ["arc_challenge", "piqa"]) == "arc_challenge"
    assert resolve("ARC-Challenge", ["ARC-Challenge"]) == "ARC-Challenge"  # the ladder's own name wins
    assert resolve("my eval", ["My_Eval", "piqa"]) == "My_Eval"
    assert resolve("foo", ["Foo", "FOO"]) == "foo"  # two candidates: left for the ladder to refuse, listing both
    assert resolve("sciq", ["piqa"]) == "sciq"
    # named twice in two spellings: predicted once
    assert choose_tasks(["mmlu", "MMLU", "Social IQa"], ["mmlu", "socialiqa"]) == ["mmlu", "socialiqa"]


def test_evaluate_takes_a_bundled_task_as_the_tables_print_it():
    assert bundled_task("ARC-Easy", limit=5) == bundled_task("arc_easy", limit=5)
    assert bundled_task("commonsense_qa", limit=5) == bundled_task("csqa", limit=5)
