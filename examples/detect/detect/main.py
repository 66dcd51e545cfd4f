"""detect: finds faces in an uploaded image with the Viola-Jones cascade that Debian's
opencv-data ships (haarcascade_frontalface_default.xml, trained at Intel on photographs),
records them in a table and stores an annotated copy beside the original."""
import json
import os
import urllib.parse
import urllib.request

import cv2
import numpy as np

KUMO_URL = os.environ["KUMO_URL"]
TABLE = os.environ.get("TABLE", "detections")
MODEL = "haarcascade_frontalface_default.xml"
MODEL_DIR = os.environ.get("CASCADE_DIR", "/usr/share/opencv4/haarcascades")

# The init phase: load the model once per instance.
DETECTOR = cv2.CascadeClassifier(os.path.join(MODEL_DIR, MODEL))
if DETECTOR.empty():
    raise RuntimeError(f"cannot load {MODEL} from {MODEL_DIR}; install Debian's opencv-data")


def auth():
    """The instance's own key (the permissions in kumo.yaml), read at each call: Kumo gives
    every instance a key of its own."""
    return {"Authorization": "Bearer " + os.environ.get("KUMO_API_KEY", "")}


def call(method, path, body=None, content_type="application/octet-stream"):
    headers = auth()
    if body:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(KUMO_URL + urllib.parse.quote(path), data=body, method=method,
                                 headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


def find_faces(image):
    """[{label, box: [x, y, w, h], score}], the largest first. The score is the cascade's
    last-stage weight: above ~3 is a confident face."""
    gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    boxes, _, weights = DETECTOR.detectMultiScale3(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(40, 40), outputRejectLevels=True)
    faces = [{"label": "face", "box": [int(v) for v in box], "score": round(float(w), 3)}
             for box, w in zip(boxes, weights)]
    return sorted(faces, key=lambda f: -f["box"][2])


def annotate(image, faces):
    out = image.copy()
    for f in faces:
        x, y, w, h = f["box"]
        cv2.rectangle(out, (x, y), (x + w, y + h), (0, 255, 0), 2)
        cv2.putText(out, f"{f['label']} {f['score']:.1f}", (x, max(12, y - 4)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 0), 1)
    _, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return jpeg.tobytes()


def process(bucket, key):
    image = cv2.imdecode(np.frombuffer(call("GET", f"/s3/{bucket}/{key}"), np.uint8),
                         cv2.IMREAD_COLOR)
    if image is None:
        result = {"bucket": bucket, "key": key, "error": "not an image OpenCV can decode"}
    else:
        faces = find_faces(image)
        annotated = f"annotated/{key}"
        call("PUT", f"/s3/{bucket}/{annotated}", annotate(image, faces), "image/jpeg")
        result = {"bucket": bucket, "key": key, "model": MODEL, "width": image.shape[1],
                  "height": image.shape[0], "count": len(faces), "detections": faces,
                  "annotated": annotated}
    call("PUT", f"/api/v1/tables/{TABLE}/items/{bucket}/{key}",
         json.dumps(result).encode(), "application/json")
    return result


def handle(event, context):
    done = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])  # S3 encodes keys
        result = process(bucket, key)
        print(f"{bucket}/{key}: {result.get('count', result.get('error'))} faces")
        done.append({"key": key, "count": result.get("count")})
    return {"processed": done}
