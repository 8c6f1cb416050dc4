"""Cloze tasks from held-out text (taskladder.cloze): what each question is, exactly."""

import gzip
import json
import re

import pytest

from taskladder import cloze
from taskladder.errors import TaskladderError
from taskladder.evaluation import load_task
from taskladder.ladder import BYTE_VOCAB_SIZE, PRESETS, non_embedding_params, plan, target_rung, MICRO_SHAPES
from taskladder.tasks import REGISTRY, chance

TEXT = """BAPTISTA:
Not in my house, Lucentio; for, you know,
Pitchers have ears, and I have many servants:
Besides, old Gremio is hearkening still;
And happily we might be interrupted.

TRANIO:
Then at my lodging, an it like you:
There doth my father lie; and there, this night,
We'll pass the business privately and well.
Send for your daughter by your servant here:
My boy shall fetch the scrivener presently.
The worst is this, that, at so slender warning,
You are like to have a thin and slender pittance.
"""


def _position(item) -> int:
    return int(item.id.rsplit("-", 1)[1])


# words one letter away from some of TEXT's, for cloze_neighbor's distractors
NEIGHBORS = "hive hove gave save cave shell small stall lime life bike lake snow knew horse mouse louse"


@pytest.mark.parametrize("kind", list(cloze.KINDS))
def test_every_question_is_the_true_next_word_after_its_context(kind):
    task = cloze.build(TEXT, kind, 50, context_chars=30, vocabulary=TEXT + NEIGHBORS)
    assert task.name == kind and len(task.items) >= (3 if kind == "cloze_neighbor" else 5)
    assert not task.uncond and task.primary == "acc_per_char"
    for it in task.items:
        p = _position(it)
        word = re.match(r"[a-z]+", TEXT[p:]).group()
        assert it.choices[it.gold] == " " + word  # the gold choice is the word at that position
        assert TEXT[:p - 1].endswith(it.question) and TEXT[p - 1] == " "  # context: the text just before it
        assert len(it.question) <= 30 and (it.question == TEXT[:p - 1] or TEXT[p - 2 - len(it.question)].isspace())
        assert len(set(it.choices)) == 4 and all(len(c) == len(word) + 1 for c in it.choices)
        assert 4 <= len(word) <= 8 and p - 1 >= 30 // 2  # default word lengths; half a context at least
        for c in it.choices:
            o = c[1:]
            if kind == "cloze_spelling":
                assert sorted(o) == sorted(word)
            elif kind == "cloze_swap" and o != word:
                i = next(k for k in range(len(o)) if o[k] != word[k])
                assert o[i] == word[i + 1] and o[i + 1] == word[i] and o[i + 2:] == word[i + 2:]
            elif kind in ("cloze_vowel", "cloze_consonant") and o != word:
                letters = "aeiou" if kind == "cloze_vowel" else "bcdfghjklmnpqrstvwxyz"
                diff = [k for k in range(len(o)) if o[k] != word[k]]
                assert len(diff) == 1 and o[diff[0]] in letters and word[diff[0]] in letters
            elif kind == "cloze_word":
                assert o.islower() and re.search(rf"\b{o}\b", TEXT + NEIGHBORS)  # a real word of the text
            elif kind == "cloze_neighbor" and o != word:
                assert re.search(rf"\b{o}\b", TEXT + NEIGHBORS) and sum(a != b for a, b in zip(o, word)) == 1


    positions = [_position(it) for it in task.items]
    assert positions == sorted(positions)  # in the text's order, whatever order they were drawn in
    if len(task.items) >= 12:  # the gold answer is not always in one place
        assert len({it.gold for it in task.items}) >= 3


def test_cloze_neighbor_finds_every_word_one_letter_away_whichever_letter():
    # "mask" has exactly three neighbours in each vocabulary, one letter apart at its first three
    # letters, then at its last three: all three are its distractors (none missed by the index of
    # blanked spellings); "tusk" (two letters away), "masks" and "mas" (other lengths) are not neighbours
    text = "xx " * 10 + "mask"
    for vocabulary, near in (("task musk mark", {"task", "musk", "mark"}),
                             ("musk mark mast", {"musk", "mark", "mast"})):
        task = cloze.build(text, "cloze_neighbor", 5, context_chars=20, vocabulary=vocabulary + " tusk masks mas mask")
        assert len(task.items) == 1
        it = task.items[0]
        assert it.choices[it.gold] == " mask"
        assert {c[1:] for i, c in enumerate(it.choices) if i != it.gold} == near


def test_cloze_questions_have_half_a_context_at_least():
    text = "I have seen these words before, many times over"
    task = cloze.build(text, "cloze_spelling", 10)  # 48 characters of context: none before 24
    assert [_position(it) for it in task.items] == [text.index(w) for w in ("many", "times", "over")]


def test_cloze_word_distractors_are_drawn_by_frequency():
    # three 4-letter words make up nearly all of the vocabulary's mass: they are the distractors
    heavy = {"zzqa", "zzqb", "zzqc"}
    task = cloze.build(TEXT, "cloze_word", 50, vocabulary=TEXT + " zzqa zzqb zzqc" * 20_000)
    four = [it for it in task.items if len(it.choices[it.gold]) == 5]
    assert len(four) >= 5
    for it in four:
        assert {c[1:] for i, c in enumerate(it.choices) if i != it.gold} == heavy
    assert {len(c) for it in task.items for c in it.choices} - {5} and not any(
        c[1:] in heavy for it in task.items if len(it.choices[it.gold]) != 5 for c in it.choices)


def test_cloze_tasks_are_deterministic_and_round_trip_through_task_files(tmp_path):
    a = cloze.build(TEXT, "cloze_vowel", 20, seed=3)
    assert cloze.build(TEXT, "cloze_vowel", 20, seed=3) == a
    assert cloze.build(TEXT, "cloze_vowel", 20, seed=4) != a
    path = tmp_path / "t.json.gz"
    path.write_bytes(gzip.compress(json.dumps(cloze.to_json(a)).encode()))
    b = load_task(path)
    assert b == a and b.uncond is False and b.meta["chance"] == 0.25
    assert len(cloze.build(TEXT, "cloze_swap", 3).items) == 3


def test_cloze_bad_input():
    with pytest.raises(TaskladderError, match="unknown cloze task 'nope'"):
        cloze.build(TEXT, "nope", 5)
    with pytest.raises(TaskladderError, match="no word"):
        cloze.build("A B C", "cloze_word", 5)


def test_cloze_tasks_are_registered_with_chance_one_in_four():
    for kind in cloze.KINDS:
        assert kind in REGISTRY and chance(kind) == 0.25 and not REGISTRY[kind].in_paper


def test_micro_preset_target_is_a_larger_model_with_four_times_the_compute():
    rungs = plan(PRESETS["micro"])
    assert len(rungs) == 12 and len({r.size for r in rungs}) == 4 and {r.multiple for r in rungs} == {1, 2, 5}
    t = target_rung(PRESETS["micro"])
    # 2 blocks of (4 d^2 + 2 d + 3 d 4d + 2 d) + final norm d + LM head 264 d, d = 48
    assert t.name == "87k-5xC" and t.n == 2 * (4 * 48**2 + 2 * 48 + 12 * 48**2 + 2 * 48) + 48 + 264 * 48 == 86_832
    assert t.n == non_embedding_params(MICRO_SHAPES["87k"], BYTE_VOCAB_SIZE) and t.tokens == 100 * t.n
    assert t.flops >= 4 * max(r.flops for r in rungs)
    assert t.name not in {r.name for r in rungs}
    # the tiny preset's target is its own largest rung
    tiny = target_rung(PRESETS["tiny"])
    assert tiny in plan(PRESETS["tiny"]) and tiny.name == "12k-5xC"
