"""The torch tests use tiny models: one thread is faster than several on shared cores."""

import importlib.util

if importlib.util.find_spec("torch") is not None:
    import torch

    torch.set_num_threads(1)
