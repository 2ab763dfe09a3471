"""PyTorch adapter: device choice, batches as tensors on that device, accuracy.

Re-exports the framework-neutral helpers, so a notebook needs only
`from d2l_helpers import torch as d2l`.
"""
import torch

from . import *  # noqa: F401,F403 -- the neutral helpers, re-exported
from . import data as _data

FRAMEWORK = "PyTorch"
VERSION = torch.__version__


def has_gpu() -> bool:
    return torch.cuda.is_available()


def try_gpu() -> torch.device:
    """The first GPU if there is one, else the CPU; says which."""
    if has_gpu():
        device = torch.device("cuda:0")
        print(f"Training on GPU: {torch.cuda.get_device_name(device)}")
    else:
        device = torch.device("cpu")
        print(f"No GPU found: training on the CPU ({torch.get_num_threads()} threads)")
    return device


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"


class Batches(_data.BatchStream):
    """Batches of (images N×1×H×W float32, labels int64), prepared on `device`.

    The whole split sits on the device as uint8; each batch is gathered,
    normalised and resized there with two matrix products.
    """

    def _store(self, images, labels):
        self.images = torch.from_numpy(images).to(self.device)
        self.labels = torch.from_numpy(labels).to(self.device)
        self.matrix = torch.from_numpy(self.resize_matrix).to(self.device)

    def _take(self, indices):
        idx = torch.from_numpy(indices).to(self.device)
        x = (self.images[idx].float() / 255 - _data.MEAN) / _data.STD
        x = self.matrix @ x @ self.matrix.T
        return x.unsqueeze(1), self.labels[idx]


def loaders(dataset, config, device):
    """Train (shuffled, seeded) and test batches for `config`, on `device`."""
    return Batches.for_config(dataset, config, device)


def correct(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Number of correct predictions in a batch."""
    return (logits.argmax(dim=1) == labels).sum().item()
