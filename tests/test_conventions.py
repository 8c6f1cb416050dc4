"""Each tool's metric convention on hand-computed values (no torch needed)."""

import math

import numpy as np
import pytest

from taskladder import conventions
from taskladder.errors import TaskladderError

LN2 = math.log(2)
# three questions: (continuations, summed log-likelihoods in nats, gold)
QS = [((" ab", " abcd"), [-2.0, -3.0], 1),
      ((" x", " yy"), [-1.0, -0.5], 0),
      (("ab", "abcd"), [-2.0, -4.5], 0)]  # no leading space: OLMo still drops the first character


def _metrics(name):
    conv = conventions.get(name)
    qs = [conventions.question_metrics(np.array(ll), np.ones(len(ll)), c, g, "acc_per_char", conv) for c, ll, g in QS]
    return conventions.mean_metrics(qs, "acc_per_char")


def _ce(z, gold):
    z = np.asarray(z)
    return -(z[gold] - np.log(np.exp(z).sum()))


# lengths each convention counts, per question and choice, written out by hand
CHARS = {"all": [(3, 5), (2, 3), (2, 4)], "drop_first": [(2, 4), (1, 2), (1, 3)], "drop_delimiter": [(2, 4), (1, 2), (2, 4)]}


@pytest.mark.parametrize("name", ["olmo", "olmo_core", "olmes", "lm_eval", "lighteval"])
def test_conventions_by_hand(name):
    conv = conventions.get(name)
    m = _metrics(name)
    # per-char accuracy: argmax of ll / counted characters
    hits = [float(np.argmax(np.array(ll) / np.array(CHARS[conv.acc][i])) == g) for i, (_, ll, g) in enumerate(QS)]
    assert m["acc_per_char"] == pytest.approx(np.mean(hits)) and m["acc"] == m["acc_per_char"]
    # bits per byte of the gold (ASCII: bytes = characters)
    bpb = [-ll[g] / (CHARS[conv.bpb][i][g] * LN2) for i, (_, ll, g) in enumerate(QS)]
    assert m["bpb"] == pytest.approx(np.mean(bpb), rel=1e-12)
    ce = [_ce(np.array(ll) / np.array(CHARS[conv.taskce][i]), g) for i, (_, ll, g) in enumerate(QS)]
    assert m["taskce"] == pytest.approx(np.mean(ce), rel=1e-12)


def test_taskce_follows_the_tasks_primary_normalisation():
    # a task file may name any primary: TaskCE is the softmax over choices of that score
    conv = conventions.get("olmes")
    ll, ntok, uncond = np.array([-2.0, -3.0, -6.0]), np.array([1.0, 2.0, 4.0]), np.array([-1.0, -2.5, -4.0])
    texts = (" a", " bb", " cccc")
    for primary, z in (("acc_raw", [-2.0, -3.0, -6.0]), ("acc_per_token", [-2.0, -1.5, -1.5]),
                       ("acc_uncond", [-1.0, -0.5, -2.0]), ("acc_per_char", [-1.0, -1.0, -1.2])):
        m = conventions.question_metrics(ll, ntok, texts, 1, primary, conv, ll_uncond=uncond)
        assert m["taskce"] == pytest.approx(_ce(z, 1), rel=1e-12), primary
    # and the hits under each normalisation, by hand: gold 1 wins only per token (a tie at -1.5: the first)
    assert (m["acc_raw"], m["acc_per_token"], m["acc_uncond"], m["acc_per_char"]) == (0.0, 1.0, 1.0, 0.0)


def test_the_literal_numbers():
    # OLMo (the bundled ladder's): q1 -2/2 vs -3/4 -> right; q2 -1/1 vs -0.5/2 -> wrong; q3 -2/1 vs -4.5/3 -> wrong
    olmo = _metrics("olmo")
    assert olmo["acc"] == pytest.approx(1 / 3)
    assert olmo["bpb"] == pytest.approx((3 / 4 + 1 / 1 + 2 / 1) / 3 / LN2)
    # lm-eval: q3 has no delimiter to drop: -2/2 vs -4.5/4 -> right
    assert _metrics("lm_eval")["acc"] == pytest.approx(2 / 3)
    # OLMES counts the space: q1 bytes 5, q2 2, q3 2
    assert _metrics("olmes")["bpb"] == pytest.approx((3 / 5 + 1 / 2 + 2 / 2) / 3 / LN2)
    # OLMo-core 3.0: accuracy as OLMES, loss as OLMo
    oc = _metrics("olmo_core")
    assert oc["acc"] == _metrics("olmes")["acc"] and oc["bpb"] == olmo["bpb"] and oc["taskce"] == olmo["taskce"]
    assert olmo["bpb"] != _metrics("olmes")["bpb"]
    # lighteval: LogProbCharNorm() divides by len(choice), its leading space included (the
    # choices carry it), and bits per byte are counted the same way: OLMES's numbers
    # (q1 -2/3 vs -3/5 -> right; q2 -1/2 vs -0.5/3 -> wrong; q3 -2/2 vs -4.5/4 -> right)
    le = _metrics("lighteval")
    assert le["acc"] == pytest.approx(2 / 3) and le["bpb"] == pytest.approx((3 / 5 + 1 / 2 + 2 / 2) / 3 / LN2)


def test_unknown_convention_is_a_user_error():
    with pytest.raises(TaskladderError, match="unknown metric convention 'hf'"):
        conventions.get("hf")


def test_bytes_not_characters_a_one_character_answer_and_metrics_every_question_has():
    olmo, olmes = conventions.get("olmo"), conventions.get("olmes")
    # bits per byte count UTF-8 bytes: " été" is 4 characters, 6 bytes (5 without OLMo's first character)
    m = conventions.question_metrics(np.array([-3.0, -9.0]), np.ones(2), (" été", " xy"), 0, "acc_per_char", olmes)
    assert m["bpb"] == pytest.approx(3.0 / (6 * LN2), rel=1e-12)
    m = conventions.question_metrics(np.array([-3.0, -9.0]), np.ones(2), (" été", " xy"), 0, "acc_per_char", olmo)
    assert m["bpb"] == pytest.approx(3.0 / (5 * LN2), rel=1e-12)
    # a one-character answer under OLMo counts 1 character and 1 byte, not 0 (OLMo divides by 0)
    m = conventions.question_metrics(np.array([-0.7, -1.5]), np.ones(2), (" ", " ab"), 0, "acc_per_char", olmo)
    assert m["bpb"] == pytest.approx(0.7 / LN2, rel=1e-12)
    assert m["acc_per_char"] == 1.0  # -0.7 / 1 against -1.5 / 2 = -0.75: the gold wins at 1 (at 0.5: -1.4 loses)
    assert m["taskce"] == pytest.approx(_ce([-0.7, -0.75], 0), rel=1e-12)
    # a task's metrics are those every question has: one scored with unconditioned likelihoods too
    # (PMI) beside one without gives no acc_uncond from a single question
    qs = [{"acc_raw": 1.0, "acc_uncond": 1.0, "bpb": 0.5}, {"acc_raw": 0.0, "bpb": 1.5}]
    assert conventions.mean_metrics(qs, "acc_raw") == {"acc_raw": 0.5, "bpb": 1.0, "acc": 0.5}
