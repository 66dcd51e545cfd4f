"""Asks the textdir model which way up a line of text is, over KServe v2 JSON.

    python3 client.py [IMAGE.pgm] [--turned]

The image is an 8-bit binary PGM of one line of text (default: the one the tests use).
"""
import json
import os
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
from test_model import IMAGE, read_pgm  # noqa: E402


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    width, height, pixels = read_pgm(args[0] if args else IMAGE)
    if "--turned" in sys.argv:
        pixels = pixels[::-1]
    plane = [p / 127.5 - 1.0 for p in pixels]  # PaddleOCR's scaling to [-1, 1]
    body = {"inputs": [{"name": "x", "shape": [1, 3, height, width], "datatype": "FP32",
                        "data": plane * 3}]}
    url = os.environ.get("KUMO_URL", "http://127.0.0.1:8080") + "/v2/models/textdir/infer"
    req = urllib.request.Request(url, json.dumps(body).encode(),
                                 {"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        up, turned = json.load(r)["outputs"][0]["data"]
    print(f"upright {up:.3f}, turned 180 degrees {turned:.3f}")


if __name__ == "__main__":
    main()
