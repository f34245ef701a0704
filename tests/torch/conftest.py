"""The torch tests use tiny models: one thread is faster than several on shared cores."""

try:
    import torch
except ImportError:  # each test module skips itself with pytest.importorskip("torch")
    pass
else:
    torch.set_num_threads(1)
