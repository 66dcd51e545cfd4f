"""Makes the test images from scikit-image's sample data (Debian's python3-skimage 0.19.3):
astronaut.png (Eileen Collins, a NASA photograph in the public domain) and coffee.png (a cup
of coffee, CC0). Usage: python3 make_images.py SKIMAGE_DATA_DIR [OUT_DIR]

The package need not be installed: `apt-get download python3-skimage && dpkg-deb -x
python3-skimage_*.deb x` gives x/usr/lib/python3/dist-packages/skimage/data.
"""
import os
import sys

import cv2
import numpy as np


def save(out_dir, name, image):
    path = os.path.join(out_dir, name)
    cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"{path}: {image.shape[1]}x{image.shape[0]}, {os.path.getsize(path)} bytes")


def main(data_dir, out_dir):
    astronaut = cv2.imread(os.path.join(data_dir, "astronaut.png"))
    coffee = cv2.imread(os.path.join(data_dir, "coffee.png"))
    # One face: the whole portrait at 320x320 (its face is near (110, 42), 58 px wide).
    save(out_dir, "one_face.jpg", cv2.resize(astronaut, (320, 320), interpolation=cv2.INTER_AREA))
    # Three faces: the head and shoulders (x 120..370, y 10..260 of the original) three times on
    # a grey strip, the middle one mirrored, each 200x200 with a 20 px gap.
    head = cv2.resize(astronaut[10:260, 120:370], (200, 200), interpolation=cv2.INTER_AREA)
    strip = np.full((240, 680, 3), 128, np.uint8)
    for i, tile in enumerate([head, cv2.flip(head, 1), head]):
        x = 20 + i * 220
        strip[20:220, x:x + 200] = tile
    save(out_dir, "three_faces.jpg", strip)
    # No face: a cup of coffee.
    save(out_dir, "no_face.jpg", cv2.resize(coffee, (360, 240), interpolation=cv2.INTER_AREA))


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else os.path.dirname(__file__) or ".")
