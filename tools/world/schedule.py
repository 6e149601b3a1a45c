"""The learning-rate schedule every world training script uses."""
import math


def warmup_cosine(step, steps, peak, warmup):
    """@peak reached linearly over @warmup steps, then a half cosine to 0
    at @steps."""
    return peak * min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))
