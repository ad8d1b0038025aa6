"""Gradient boosting on scikit-learn's diabetes dataset; logs params, metrics and the model.

Run by `somlier online train` (the run and its tracking server come in MLFLOW_RUN_ID and
MLFLOW_TRACKING_URI), or by hand: MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python train.py
"""
import argparse

import somlier
from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--n_estimators", type=int, default=100)
    parser.add_argument("--max_depth", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    x, y = load_diabetes(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25,
                                                        random_state=args.seed)
    model = GradientBoostingRegressor(learning_rate=args.learning_rate,
                                      n_estimators=args.n_estimators,
                                      max_depth=args.max_depth, random_state=args.seed)
    with somlier.start_run():
        somlier.log_params(vars(args))
        model.fit(x_train, y_train)
        training_mae = mean_absolute_error(y_train, model.predict(x_train))
        test_mae = mean_absolute_error(y_test, model.predict(x_test))
        somlier.log_metrics({"training_mae": training_mae, "test_mae": test_mae,
                             "test_r2": r2_score(y_test, model.predict(x_test))})
        somlier.sklearn.log_model(model, "model")
        print(f"training_mae={training_mae:.3f} test_mae={test_mae:.3f}")


if __name__ == "__main__":
    main()
