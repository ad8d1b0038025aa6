"""A deterministic synthetic customer-churn table: one row per customer, typed columns.

    plan           str    basic | pro | enterprise
    region         str    north | south | east | west
    tenure_months  int64  months as a customer, 1-72
    has_support    bool   pays for the support plan
    monthly_spend  float  dollars per month
    churned        str    the label: "churn" or "stay"

Customers churn more on the basic plan, early in their tenure, without support and when they
pay much for their plan; the noise keeps the best accuracy below 100%.
`python data.py churn.csv` writes the table as CSV.
"""
import sys

import numpy as np
import pandas as pd

FEATURES = ["plan", "region", "tenure_months", "has_support", "monthly_spend"]
LABEL = "churned"

PLANS = np.array(["basic", "pro", "enterprise"])
REGIONS = np.array(["north", "south", "east", "west"])
_BASE_SPEND = {"basic": 20.0, "pro": 50.0, "enterprise": 120.0}
_PLAN_RISK = {"basic": 0.8, "pro": 0.0, "enterprise": -0.8}
_REGION_RISK = {"north": -0.2, "south": 0.3, "east": 0.0, "west": 0.1}


def make_churn(n_rows=2000, seed=7):
    """The table as a DataFrame of `n_rows` rows; the same `seed` gives the same rows."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(PLANS, size=n_rows, p=[0.5, 0.35, 0.15])
    region = rng.choice(REGIONS, size=n_rows)
    tenure = rng.integers(1, 73, size=n_rows, dtype=np.int64)
    has_support = rng.random(n_rows) < 0.4
    base = np.array([_BASE_SPEND[p] for p in plan])
    spend = np.round(base * rng.lognormal(0.0, 0.25, size=n_rows), 2)
    logit = (1.2 - 0.06 * tenure + np.array([_PLAN_RISK[p] for p in plan])
             + np.array([_REGION_RISK[r] for r in region]) - 1.1 * has_support
             + 2.0 * (spend / base - 1.0) + rng.logistic(0.0, 0.6, size=n_rows))
    return pd.DataFrame({
        "plan": plan.astype(object),
        "region": region.astype(object),
        "tenure_months": tenure,
        "has_support": has_support,
        "monthly_spend": spend,
        LABEL: np.where(logit > 0, "churn", "stay").astype(object),
    })


if __name__ == "__main__":
    make_churn().to_csv(sys.argv[1] if len(sys.argv) > 1 else sys.stdout, index=False)
