"""Counts and budgets as people write them (taskladder.units)."""

import re

import pytest

from taskladder.errors import TaskladderError
from taskladder.units import parse_count, parse_counts, parse_flops


@pytest.mark.parametrize("text, value", [
    ("6887575552", 6_887_575_552), ("6.9e9", 6_900_000_000), ("6.9B", 6_900_000_000), (" 7b ", 7_000_000_000),
    ("1.5G", 1_500_000_000), ("190M", 190_000_000), ("120k", 120_000), ("4T", 4_000_000_000_000),
    ("3.945e12", 3_945_000_000_000), ("+5", 5), ("0.6", 1), ("1.5K", 1500),
    # grouped as taskladder prints counts, or as Python writes them
    ("6,887,575,552", 6_887_575_552), ("4,000B", 4_000_000_000_000), ("6_887_575_552", 6_887_575_552),
    ("12,345.5M", 12_345_500_000)])
def test_counts_with_suffixes_and_notation(text, value):
    got = parse_count(text, "--n")
    assert got == value and isinstance(got, int)


@pytest.mark.parametrize("text, message", [
    ("5X", "'5X' is not a number"), ("", "'' is not a number"), ("1e", "is not a number"),
    ("-5", "must be positive, got '-5'"), ("0", "must be positive"), ("6,88,7", "is not a number"),
    ("6__9", "is not a number"),
    ("0.4", "a count must be at least 1, got '0.4'"),
    ("1e30", "'1e30' is too large (counts must be below 9.2e+18)"), ("1e400", "'1e400' is too large (not a finite"),
    ("inf", "must be a finite number, got 'inf'"), ("-inf", "must be a finite number"), ("NaN", "must be a finite")])
def test_bad_counts_name_the_option_and_value(text, message):
    with pytest.raises(TaskladderError, match="^--n: ") as e:
        parse_count(text, "--n")
    assert message in str(e.value)


def test_sweeps_and_budgets():
    assert parse_counts("3B,7B,13B", "--n") == [3_000_000_000, 7_000_000_000, 13_000_000_000]
    assert parse_counts("7B", "--n") == 7_000_000_000
    # thousands separators make one count (as taskladder prints them), not a sweep of "4" and "000B"
    assert parse_counts("4,000B", "--tokens") == 4_000_000_000_000
    assert parse_counts("6,887,575,552", "--n") == 6_887_575_552
    assert parse_counts("1,5", "--n") == [1, 5]
    with pytest.raises(TaskladderError, match="--n: '' is not a number"):
        parse_counts("3B,,7B", "--n")
    assert parse_flops("3e21", "--budget") == 3e21  # a budget is not an int64 count
    assert parse_flops("1e30", "--budget") == 1e30 and parse_flops("0.3", "--budget") == 0.3  # nor rounded
    with pytest.raises(TaskladderError, match="--budget: must be positive, got '-3e21'"):
        parse_flops("-3e21", "--budget")
    with pytest.raises(TaskladderError, match="too large"):
        parse_flops("1e400", "--budget")


@pytest.mark.parametrize("level, text", [(0.9, "90%"), (0.95, "95%"), (0.5, "50%"), (0.999, "99.9%"),
                                         (0.999999, "99.9999%"), (0.6826894921370859, "68.2689%")])
def test_levels_are_written_without_rounding_to_100_percent(level, text):
    from taskladder.units import percent

    assert percent(level) == text


@pytest.mark.parametrize("given, level", [(0.9, 0.9), ("0.9", 0.9), ("90", 0.9), (90, 0.9), ("90%", 0.9),
                                          (" 95 % ", 0.95), ("99.9", 0.999), ("5%", 0.05), ("0.5%", 0.005),
                                          ("10", 0.1), (0.05, 0.05)])
def test_levels_read_as_fractions_or_percentages(given, level):
    from taskladder.units import parse_level

    assert parse_level(given) == pytest.approx(level, rel=1e-15)
    if given in ("90", 90, "90%"):
        assert parse_level(given) == 0.9  # exactly the default's float: the same intervals and JSON


@pytest.mark.parametrize("given", ["1", 1, "1.5", "9.99", "100", "100%", "0", "0%", "-90", "150", "nan", "inf", True])
def test_levels_that_are_neither_a_fraction_nor_a_percentage_are_refused(given):
    from taskladder.units import parse_level

    with pytest.raises(TaskladderError, match=f"--level must be a fraction between 0 and 1 or a percentage "
                                              f"\\(90 or 90%\\), got {re.escape(repr(given))}"):
        parse_level(given)
    with pytest.raises(TaskladderError, match="level must be a number, got 'high'"):
        parse_level("high", "level")


def test_tokens_as_a_multiple_of_each_targets_chinchilla_budget():
    from taskladder.datasets import make_targets
    from taskladder.units import ChinchillaMultiple, parse_tokens

    assert parse_tokens("2xC", "--tokens") == ChinchillaMultiple(2.0)
    assert parse_tokens("1xC, 28.6XC", "--tokens") == [ChinchillaMultiple(1.0), ChinchillaMultiple(28.6)]
    assert parse_tokens("4T", "--tokens") == 4_000_000_000_000
    assert parse_tokens("6,887,575,552", "--tokens") == 6_887_575_552  # grouped digits: one count
    assert parse_tokens("4T,2xC", "--tokens") == [4_000_000_000_000, ChinchillaMultiple(2.0)]
    # 2xC is 2 x 20 N of each target's own N, as the ladder's runs are named
    ts = make_targets(n=[1_000_000_000, 7_000_000_000], tokens=ChinchillaMultiple(2.0))
    assert [(t.n, t.d) for t in ts] == [(1e9, 40_000_000_000), (7e9, 280_000_000_000)]
    assert ts[1].name == "N=7e+09,D=2.8e+11"
    for text, message in [("0xC", "must be positive and finite"), ("-1xC", "must be positive, got '-1xC'"),
                          ("2xD", "neither a count nor a multiple"), ("1e400xC", "must be positive and finite")]:
        with pytest.raises(TaskladderError, match=message):
            parse_tokens(text, "--tokens")
    with pytest.raises(TaskladderError, match="1e\\+18xC of N = 7e\\+09 is 1.4e\\+29 tokens, too large"):
        make_targets(n=7_000_000_000, tokens=ChinchillaMultiple(1e18))


def test_a_budget_with_n_or_tokens_sets_the_other_by_6ND():
    from taskladder.datasets import budget_targets, make_targets
    from taskladder.units import ChinchillaMultiple

    assert budget_targets(6e22, n=1_000_000_000) == [(1_000_000_000, 10_000_000_000_000)]
    assert budget_targets([6e21, 6e22], tokens=1_000_000_000_000) == [(1_000_000_000, 1_000_000_000_000),
                                                                       (10_000_000_000, 1_000_000_000_000)]
    # Chinchilla-optimal (1xC, D = 20 N): C = 6 N 20 N, so N = sqrt(C / 120)
    (n, d), = budget_targets(1.2e23, tokens=ChinchillaMultiple(1.0))
    assert abs(n - 1e21 ** 0.5) <= 1
    assert d == 20 * n and abs(6 * n * d / 1.2e23 - 1) < 1e-9
    (t,) = make_targets(n=7_000_000_000, flops=1.68e23)
    assert (t.n, t.d, t.name) == (7e9, 4e12, "N=7e+09,D=4e+12")
    for kw, message in [({}, "one of --n or --tokens"), ({"n": 1, "tokens": 1}, "one of --n or --tokens"),
                        ({"n": 7_000_000_000, "flops": 1.0}, "D: a count must be at least 1, got 2.38e-11"),
                        ({"n": [1, 2, 3], "flops": [1e21, 1e22]}, "--flops gives 2 values and --n 3")]:
        with pytest.raises(TaskladderError, match=message):
            budget_targets(**{"flops": 1e23, **kw})


def test_short_counts_read_back_by_the_parsers():
    from taskladder.units import short_count

    values = (850, 12_000, 86_832, 999.6e9, 6_887_575_552, 3.9e12)
    assert [short_count(v) for v in values] == ["850", "12K", "86.8K", "1T", "6.89B", "3.9T"]
    for v in values:
        assert parse_count(short_count(v), "--n") == pytest.approx(v, rel=5e-3)  # three digits
