"""Trains a model of model.py on scikit-learn's digits; logs metrics per epoch and the model.

--model mlp (the default, entrypoint `main`) trains DigitsMLP on the 64 pixels of each
image; --model cnn (entrypoint `cnn`) trains DigitsCNN on images shaped [1, 8, 8] and logs
the model with an input example, so its MLmodel has the tensor signature float32
[-1, 1, 8, 8] -> float32 [-1, 10].
"""
import argparse

import somlier
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from model import DigitsCNN, DigitsMLP


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument("--learning_rate", type=float,
                        help="default: 0.001 for the MLP, 0.005 for the CNN")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--num_epochs", type=int, help="default: 3 for the MLP, 5 for the CNN")
    parser.add_argument("--hidden", type=int, default=64, help="the MLP's hidden units")
    parser.add_argument("--channels", type=int, default=8, help="the CNN's feature maps")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.learning_rate is None:
        args.learning_rate = 0.005 if args.model == "cnn" else 0.001
    if args.num_epochs is None:
        args.num_epochs = 5 if args.model == "cnn" else 3
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # runs of a grid share the machine's cores

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    if args.model == "cnn":
        x = x.reshape(-1, 1, 8, 8)
    y = torch.tensor(y, dtype=torch.long)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=args.seed)
    if args.model == "cnn":
        model = DigitsCNN(args.channels)
        params = {k: v for k, v in vars(args).items() if k != "hidden"}
    else:
        model = DigitsMLP(args.hidden)
        params = {k: v for k, v in vars(args).items() if k not in ("model", "channels")}
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    loss_fn = torch.nn.CrossEntropyLoss()

    with somlier.start_run():
        somlier.log_params(params)
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
        if args.model == "cnn":
            # Three validation images, float32 [3, 1, 8, 8]: the signature's input is
            # float32 [-1, 1, 8, 8] and its output the scores, float32 [-1, 10].
            somlier.pytorch.log_model(model, "model", code_paths=["model.py"],
                                      input_example=x_val[:3].numpy())
        else:
            somlier.pytorch.log_model(model, "model", code_paths=["model.py"])


if __name__ == "__main__":
    main()
