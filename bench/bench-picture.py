#!/usr/bin/env python3
"""bench-picture.py OUT.png: the 640 x 480 picture vtp-bench describes
(bench/vtp-bench.c's test frame: byte i of the RGB rows is bits 24-31 of
i x 2654435761), as a PNG for the peers' side of the compare-*.sh scripts."""
import sys

from PIL import Image

W, H = 640, 480


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    pixels = bytes(((i * 2654435761) >> 24) & 255 for i in range(W * H * 3))
    Image.frombytes("RGB", (W, H), pixels).save(sys.argv[1])


if __name__ == "__main__":
    main()
