"""How the forecast's defaults were chosen: replays of the ladder's own runs, then the bundled targets.

Each variant is scored first on the ladder's runs (leave-one-size-out replays at 10-90%
of each run, the Chinchilla multiple nearest the targets' ~20-30x, i.e. the 10xC runs),
which is how the default was picked, and only then on the 7B-4T and 13B-5T logs
(replayed at 25% and 50%), which played no part in the choice.

    python scripts/forecast_selection.py
"""

import warnings

import pandas as pd

from taskladder.datasets import olmo2_ladder
from taskladder.forecast import ForecastConfig, Forecaster, backtest_summary, forecast_backtest
from taskladder.tasks import PAPER_TASKS

VARIANTS = {
    "constant offset, no schedule correction": ForecastConfig(schedule=False, offset_trend=0.0),
    "constant offset": ForecastConfig(offset_trend=0.0),
    "offset + 1/2 its trend (default)": ForecastConfig(),
    "offset + its full trend": ForecastConfig(offset_trend=1.0),
    "offset + 1/2 trend, shift + 1/2 trend": ForecastConfig(shift_trend=0.5),
}


def main() -> None:
    warnings.simplefilter("ignore")
    data = olmo2_ladder()
    rows = []
    for name, cfg in VARIANTS.items():
        cal = Forecaster(list(PAPER_TASKS), cfg).fit(data.ladder).calibration_.errors
        ten = cal[cal["multiple"] == cal["multiple"].max()]
        s = backtest_summary(forecast_backtest(data.ladder, data.targets.values(), (0.25, 0.5), config=cfg))
        s = s.set_index(["target", "upto"])
        early = s["coverage"].mean()
        rows.append({"variant": name, "ladder 10xC MAE": 100 * ten["acc_error"].abs().mean(),
                     "7B @25%": s.loc[("7B-4T", 0.25), "mae"], "7B @50%": s.loc[("7B-4T", 0.5), "mae"],
                     "13B @25%": s.loc[("13B-5T", 0.25), "mae"], "13B @50%": s.loc[("13B-5T", 0.5), "mae"],
                     "coverage": early})
    print(pd.DataFrame(rows).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
