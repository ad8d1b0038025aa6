"""The model of the example: a two-layer perceptron over the 8x8 digit images."""
import torch


class DigitsMLP(torch.nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))

    def forward(self, x):
        return self.layers(x)
