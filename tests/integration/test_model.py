"""`runtime: model`: an ONNX model served with no user code over the Open Inference Protocol
(KServe v2) through Kumo's gateway, with dynamic batching.

The model is PaddleOCR's text direction classifier (scripts/fetch-onnxruntime fetches it and
ONNX Runtime into .deps/); the input is a line of text rendered by OpenCV, read upright and
turned 180 degrees. Without the fetched files the tests skip.
"""
import json
import os
import shutil
import struct
import threading
import time
import unittest

from harness import KumoTestCase

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DEPS = os.path.join(ROOT, ".deps")
MODEL = os.path.join(DEPS, "models", "ocr", "cls.onnx")
LIBRARY = os.path.join(DEPS, "onnxruntime", "libonnxruntime.so.1")
IMAGE = os.path.join(ROOT, "src", "runtimes", "model", "testdata", "text.pgm")


def read_pgm(path):
    """A binary PGM (P5, 8-bit) as (width, height, pixels)."""
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    width, height = int(fields[1]), int(fields[2])
    return width, height, data[pos + 1:pos + 1 + width * height]


def text_input(turned=False):
    """PaddleOCR's preprocessing of the rendered text: 3 equal channels in [-1, 1], NCHW."""
    width, height, pixels = read_pgm(IMAGE)
    if turned:
        pixels = pixels[::-1]
    plane = [round(p / 127.5 - 1.0, 4) for p in pixels]
    return {"name": "x", "shape": [1, 3, height, width], "datatype": "FP32",
            "data": plane * 3}


@unittest.skipUnless(os.path.exists(MODEL) and os.path.exists(LIBRARY),
                     "run scripts/fetch-onnxruntime to fetch ONNX Runtime and the models")
class ModelFunctionTest(KumoTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fn = None

    def setUp(self):
        if ModelFunctionTest.fn is None:
            d = self.write_function("textdir", None, handler="cls.onnx", runtime="model",
                                    spec_extra="memory: 1024\n"
                                               "batch: {max_size: 8, max_delay: 200ms}\n")
            shutil.copy(MODEL, d)
            self.kumo("deploy", d)
            ModelFunctionTest.fn = "textdir"

    def infer(self, inputs, name="textdir", request_id="req-1"):
        return self.request("POST", f"/v2/models/{name}/infer",
                            {"id": request_id, "inputs": inputs},
                            headers={"content-type": "application/json"})

    def test_metadata_and_readiness_as_kserve_clients_read_them(self):
        r = self.request("GET", "/v2/models/textdir")
        self.assertEqual(r.status, 200, r.body)
        meta = r.json()
        self.assertEqual(meta["name"], "textdir")
        self.assertEqual(meta["inputs"], [{"name": "x", "datatype": "FP32",
                                           "shape": [-1, 3, -1, -1]}])
        self.assertEqual(meta["outputs"][0]["shape"], [-1, 2])
        r = self.request("GET", "/v2/models/textdir/ready")
        self.assertEqual((r.status, r.json()["ready"]), (200, True))
        r = self.request("GET", "/v2/models/textdir/versions/1/ready")
        self.assertEqual(r.status, 200, r.body)

    def test_infer_reads_the_direction_of_the_text(self):
        for turned, direction in ((False, 0), (True, 1)):
            r = self.infer([text_input(turned)])
            self.assertEqual(r.status, 200, r.body)
            out = r.json()
            self.assertEqual(out["model_name"], "textdir")
            self.assertEqual(out["id"], "req-1")
            [probs] = out["outputs"]
            self.assertEqual((probs["datatype"], probs["shape"]), ("FP32", [1, 2]))
            self.assertGreater(probs["data"][direction], 0.99, f"turned={turned}: {probs}")
            self.assertTrue(r.header("x-kumo-request-id"))

    def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(self):
        results = {}

        def call(i):
            results[i] = self.infer([text_input(turned=i % 2 == 1)], request_id=f"r{i}")

        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, r in results.items():
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["id"], f"r{i}")
            probs = r.json()["outputs"][0]["data"]
            self.assertGreater(probs[i % 2], 0.99, f"request {i}: {probs}")
        # The instance says how many rows each request's forward pass held.
        sizes = [r.json()["parameters"]["batch_size"] for r in results.values()]
        self.assertGreater(max(sizes), 1, f"no request shared a forward pass: {sizes}")
        self.assertLessEqual(max(sizes), 8)

    def test_binary_tensor_extension_as_triton_clients_send_it(self):
        """JSON header, then the raw FP32 bytes; Inference-Header-Content-Length splits them."""
        tensor = text_input(turned=True)
        raw = struct.pack(f"<{len(tensor['data'])}f", *tensor.pop("data"))
        tensor["parameters"] = {"binary_data_size": len(raw)}
        header = json.dumps({"inputs": [tensor]}).encode()
        r = self.request("POST", "/v2/models/textdir/infer", header + raw,
                         headers={"content-type": "application/octet-stream",
                                  "inference-header-content-length": str(len(header))})
        self.assertEqual(r.status, 200, r.body)
        self.assertGreater(r.json()["outputs"][0]["data"][1], 0.99)

    def test_a_wrongly_shaped_tensor_is_a_400_that_says_why(self):
        bad = text_input()
        bad["shape"] = [1, 4, 48, 192]
        r = self.infer([bad])
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("does not fit", r.json()["error"])
        short = text_input()
        short["data"] = short["data"][:10]
        r = self.infer([short])
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("needs", r.json()["error"])

    def test_unknown_models_and_other_functions_are_404(self):
        self.assertEqual(self.infer([text_input()], name="nope").status, 404)
        self.deploy("plain", "def handle(event, context):\n    return {}\n")
        r = self.request("GET", "/v2/models/plain")
        self.assertEqual(r.status, 404, r.body)
        self.assertIn("not a model", r.json()["error"]["message"])

    def test_calls_are_metered_like_any_invocation(self):
        self.assertEqual(self.infer([text_input()]).status, 200)

        def metered():
            usage = self.request("GET", "/api/v1/usage?since_us=0").json()
            rows = [f for f in usage["functions"] if f["function"] == "textdir"]
            return rows and rows[0]["invocations"] >= 1 and rows[0]
        row = self.wait_for(metered, what="a usage record of textdir")
        self.assertGreater(row["billed_ms"], 0)


if __name__ == "__main__":
    unittest.main()
