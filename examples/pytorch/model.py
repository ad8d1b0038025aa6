"""The models of the example, over scikit-learn's 8x8 digit images: a two-layer perceptron
(the flattened 64 pixels) and a small convolutional network (images shaped [1, 8, 8])."""
import torch


class DigitsMLP(torch.nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))

    def forward(self, x):
        return self.layers(x)


class DigitsCNN(torch.nn.Module):
    """[N, 1, 8, 8] -> a 3x3 convolution to `channels` maps, ReLU, 2x2 max pooling
    ([N, channels, 4, 4]) -> a linear layer to the 10 digits' scores."""

    def __init__(self, channels=8):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, channels, kernel_size=3, padding=1), torch.nn.ReLU(),
            torch.nn.MaxPool2d(2))
        self.classifier = torch.nn.Linear(channels * 4 * 4, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))
