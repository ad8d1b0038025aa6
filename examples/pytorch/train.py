"""Trains DigitsMLP on scikit-learn's digits; logs metrics per epoch and the model."""
import argparse

import somlier
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from model import DigitsMLP


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learning_rate", type=float, default=0.001)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--num_epochs", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # runs of a grid share the machine's cores

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=args.seed)
    model = DigitsMLP(args.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    loss_fn = torch.nn.CrossEntropyLoss()

    with somlier.start_run():
        somlier.log_params(vars(args))
        for epoch in range(args.num_epochs):
            model.train()
            order = torch.randperm(len(x_train))
            total = 0.0
            for start in range(0, len(order), args.batch_size):
                batch = order[start:start + args.batch_size]
                optimizer.zero_grad()
                loss = loss_fn(model(x_train[batch]), y_train[batch])
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            model.eval()
            with torch.no_grad():
                logits = model(x_val)
                val_loss = loss_fn(logits, y_val).item()
                accuracy = (logits.argmax(dim=1) == y_val).float().mean().item()
            somlier.log_metrics({"training_loss": total / len(x_train), "validation_loss": val_loss,
                                 "validation_accuracy": accuracy}, step=epoch)
            print(f"epoch {epoch + 1}/{args.num_epochs}: training_loss={total / len(x_train):.4f} "
                  f"validation_accuracy={accuracy:.4f}")
        somlier.pytorch.log_model(model, "model", code_paths=["model.py"])


if __name__ == "__main__":
    main()
