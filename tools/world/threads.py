"""How many threads the world tools give torch: $TRAIN_THREADS when set
(reproduce.sh runs two trainings side by side with one each), else
@default, else every core."""
import os


def set_torch_threads(default=None):
    import torch
    torch.set_num_threads(int(os.environ.get("TRAIN_THREADS", default or os.cpu_count() or 1)))
