"""The image-analysis example (examples/detect) end to end: its two functions deployed on a real
`kumo serve`, real images uploaded with the real @aws-sdk/client-s3, OpenCV's face detector
from Debian's opencv-data finding the faces the images are known to hold, the detections read
back from the table and over HTTP, the annotated copies, and a burst of 50 uploads that scales
the function out, back to zero, and shows in `kumo usage`."""
import json
import os
import shutil
import subprocess
import threading
import time
import unittest

from harness import KUMO, KumoTestCase

HERE = os.path.dirname(os.path.abspath(__file__))
JS_DIR = os.path.join(HERE, "..", "js")
EXAMPLE = os.path.join(HERE, "..", "..", "examples", "detect")
TESTDATA = os.path.join(EXAMPLE, "testdata")
CASCADE = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"


def missing_tools():
    if not shutil.which("node") or not os.path.isdir(os.path.join(JS_DIR, "node_modules")):
        return "node or tests/js/node_modules is missing"
    if not os.path.exists(CASCADE):
        return "Debian's opencv-data is not installed"
    if subprocess.run(["/usr/bin/python3", "-c", "import cv2, numpy"]).returncode != 0:
        return "python3-opencv is not installed"
    return None


def centre(box):
    x, y, w, h = box
    return x + w / 2, y + h / 2


SKIP = missing_tools()


@unittest.skipIf(SKIP, SKIP)
class DetectExample(KumoTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The example as shipped, with a 3 s idle timeout so the burst test sees scale to zero.
        detect = os.path.join(cls.tmp, "detect")
        shutil.copytree(os.path.join(EXAMPLE, "detect"), detect)
        spec = os.path.join(detect, "kumo.yaml")
        with open(spec) as f:
            text = f.read()
        with open(spec, "w") as f:
            f.write(text.replace("idle_timeout: 30s", "idle_timeout: 3s"))
        env = dict(os.environ, KUMO_URL=cls.server.url, KUMO_API_KEY=cls.server.admin_key)
        for args in (["table", "create", "detections"], ["deploy", detect],
                     ["deploy", os.path.join(EXAMPLE, "detections")]):
            subprocess.run([KUMO, *args], env=env, check=True, capture_output=True)

    # --- helpers --------------------------------------------------------------------------
    def upload(self, pairs):
        """Uploads {key: file} at once to the photos bucket with the AWS SDK."""
        args = [f"{key}={path}" for key, path in pairs.items()]
        key_id, secret = self.server.aws_credentials()
        r = subprocess.run(["node", os.path.join(JS_DIR, "s3_upload.mjs"),
                            self.server.url + "/s3", "photos", *args],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, AWS_ACCESS_KEY_ID=key_id,
                                    AWS_SECRET_ACCESS_KEY=secret))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len(json.loads(r.stdout)["uploaded"]), len(pairs))

    def item(self, key):
        r = self.request("GET", f"/api/v1/tables/detections/items/photos/{key}")
        return r.json()["item"] if r.status == 200 else None

    def wait_items(self, keys, timeout=60):
        def all_there():
            items = {k: self.item(k) for k in keys}
            return items if all(items.values()) else None
        return self.wait_for(all_there, timeout=timeout, interval=0.2,
                             what=f"detections of {len(keys)} images")

    def detect_usage(self):
        report = json.loads(self.kumo("usage", "--json").stdout)
        return next((f for f in report["functions"] if f["function"] == "detect"),
                    {"invocations": 0, "cost_usd": 0.0, "gb_seconds": 0.0})

    def instances(self):
        return self.request("GET", "/api/v1/functions/detect").json()["instances"]["total"]

    # --- tests ----------------------------------------------------------------------------
    def test_uploaded_images_get_their_faces_recorded_and_an_annotated_copy(self):
        names = ("one_face.jpg", "three_faces.jpg", "no_face.jpg")
        self.upload({f"images/{n}": os.path.join(TESTDATA, n) for n in names})
        items = self.wait_items([f"images/{n}" for n in names])

        # The astronaut's portrait at 320x320: one face, where her face is.
        one = items["images/one_face.jpg"]
        self.assertEqual((one["count"], one["width"], one["height"]), (1, 320, 320))
        face = one["detections"][0]
        self.assertEqual(face["label"], "face")
        cx, cy = centre(face["box"])
        self.assertLess(abs(cx - 140), 15, face)
        self.assertLess(abs(cy - 71), 15, face)
        self.assertTrue(45 <= face["box"][2] <= 85, face)
        self.assertGreater(face["score"], 3)

        # Three copies of her head on 200x200 tiles at x = 20, 240, 460: one face per tile.
        three = items["images/three_faces.jpg"]
        self.assertEqual(three["count"], 3)
        boxes = sorted(d["box"] for d in three["detections"])
        for tile_x, box in zip((20, 240, 460), boxes):
            cx, cy = centre(box)
            self.assertTrue(tile_x < cx < tile_x + 200 and 20 < cy < 220, (tile_x, box))

        # A cup of coffee: nothing.
        self.assertEqual((items["images/no_face.jpg"]["count"],
                          items["images/no_face.jpg"]["detections"]), (0, []))

        # The HTTP function answers the same detections, with the annotated copy's URL.
        r = self.request("GET", "/fn/detections/photos/images/three_faces.jpg")
        self.assertEqual(r.status, 200, r.body)
        answer = r.json()
        self.assertEqual(answer["detections"], three["detections"])
        self.assertEqual(answer["annotated_url"],
                         self.server.url + "/s3/photos/annotated/images/three_faces.jpg")
        missing = self.request("GET", "/fn/detections/photos/images/absent.jpg")
        self.assertEqual(missing.status, 404)
        self.assertIn("no detections", missing.json()["error"])

        # The annotated copy is a JPEG beside the original, not the original itself.
        copy = self.request("GET", "/s3/photos/annotated/images/three_faces.jpg")
        self.assertEqual(copy.status, 200)
        self.assertEqual(copy.body[:3], b"\xff\xd8\xff")
        with open(os.path.join(TESTDATA, "three_faces.jpg"), "rb") as f:
            self.assertNotEqual(copy.body, f.read())
        # The copies are outside the trigger's prefix: no detections of annotated images.
        r = self.request("GET", "/api/v1/tables/detections/items?prefix=photos/annotated/")
        self.assertEqual(r.json()["items"], [])

    def test_a_burst_of_50_uploads_scales_out_back_to_zero_and_is_billed(self):
        before = self.detect_usage()["invocations"]
        peak = [0]
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                peak[0] = max(peak[0], self.instances())
                time.sleep(0.05)
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            keys = [f"images/burst/{i:02d}.jpg" for i in range(50)]
            self.upload({k: os.path.join(TESTDATA, "one_face.jpg") for k in keys})
            items = self.wait_items(keys, timeout=90)
        finally:
            stop.set()
            watcher.join()
        self.assertTrue(all(i["count"] == 1 for i in items.values()))
        self.assertGreater(peak[0], 1, "50 uploads at once should start more than one instance")
        self.assertLessEqual(peak[0], 4)  # max_instances

        # idle_timeout 3s: every instance goes once the burst is over.
        self.wait_for(lambda: self.instances() == 0, timeout=40, interval=0.5,
                      what="detect to scale back to zero")

        def billed():
            usage = self.detect_usage()
            return usage if usage["invocations"] - before >= 50 else None
        usage = self.wait_for(billed, timeout=10, interval=0.5, what="50 invocations billed")
        self.assertEqual(usage["invocations"] - before, 50)
        self.assertGreater(usage["gb_seconds"], 0)
        self.assertGreater(usage["cost_usd"], 0)
        table = self.kumo("usage").stdout
        self.assertRegex(table, r"(?m)^detect\s+\d+")


if __name__ == "__main__":
    unittest.main()
