"""A churn classifier on a typed table (see data.py): one-hot encoded plan and region, scaled
tenure and spend, the support flag as is, and a logistic regression. Logs params, metrics
and the model, with an MLflow signature inferred from a few rows of the table; the model
predicts the labels "churn" and "stay".

Run by `somlier online train` (the run and its tracking server come in MLFLOW_RUN_ID and
MLFLOW_TRACKING_URI), or by hand: MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python train.py
"""
import argparse

import somlier
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from data import FEATURES, LABEL, make_churn


def build_model(C=1.0, max_iter=200):
    """The pipeline: one-hot encoded strings, scaled numbers, the flag as is, then a logistic
    regression."""
    return Pipeline([
        ("columns", ColumnTransformer([
            ("categories", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
            ("numbers", StandardScaler(), ["tenure_months", "monthly_spend"]),
            ("flags", "passthrough", ["has_support"]),
        ])),
        ("classifier", LogisticRegression(C=C, max_iter=max_iter)),
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularization strength")
    parser.add_argument("--max_iter", type=int, default=200)
    parser.add_argument("--n_rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    table = make_churn(args.n_rows, args.seed)
    x_train, x_val, y_train, y_val = train_test_split(
        table[FEATURES], table[LABEL], test_size=0.25, random_state=args.seed,
        stratify=table[LABEL])
    model = build_model(args.C, args.max_iter)
    with somlier.start_run():
        somlier.log_params(vars(args))
        model.fit(x_train, y_train)
        metrics = {
            "training_accuracy": accuracy_score(y_train, model.predict(x_train)),
            "validation_accuracy": accuracy_score(y_val, model.predict(x_val)),
            "training_loss": log_loss(y_train, model.predict_proba(x_train)),
            "validation_loss": log_loss(y_val, model.predict_proba(x_val)),
        }
        somlier.log_metrics(metrics)
        # A few rows of the table: MLmodel's signature gets their column names and types
        # (string, long, boolean, double) and the model's output on them; served requests
        # name the same columns.
        somlier.sklearn.log_model(model, "model", input_example=x_val.head(3))
        print(" ".join(f"{name}={value:.4f}" for name, value in metrics.items()))


if __name__ == "__main__":
    main()
