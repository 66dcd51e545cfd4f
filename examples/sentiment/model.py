"""sentiment: a bag-of-words logistic regression trained with numpy in the init phase.

The init phase (module level) builds the vocabulary and trains the model once per instance;
each invocation only vectorises its text and runs one dot product.
    kumo invoke sentiment -d '{"text": "what a great and happy day"}'
"""
import re

import numpy as np

TRAIN = [
    ("I love this, it is great", 1), ("what a wonderful happy day", 1),
    ("excellent work, very good", 1), ("this is fantastic and fun", 1),
    ("nice, pleasant and lovely", 1), ("good results, great team", 1),
    ("I hate this, it is awful", 0), ("what a terrible sad day", 0),
    ("bad work, very poor", 0), ("this is horrible and boring", 0),
    ("nasty, unpleasant and ugly", 0), ("poor results, bad team", 0),
]


def tokens(text):
    return re.findall(r"[a-z']+", text.lower())


VOCAB = {w: i for i, w in enumerate(sorted({w for t, _ in TRAIN for w in tokens(t)}))}


def vectorise(text):
    v = np.zeros(len(VOCAB) + 1)
    v[-1] = 1.0  # bias
    for w in tokens(text):
        if w in VOCAB:
            v[VOCAB[w]] += 1.0
    return v


def train(epochs=300, rate=0.5):
    x = np.stack([vectorise(t) for t, _ in TRAIN])
    y = np.array([label for _, label in TRAIN], dtype=float)
    w = np.zeros(x.shape[1])
    for _ in range(epochs):
        p = 1.0 / (1.0 + np.exp(-x @ w))
        w -= rate * x.T @ (p - y) / len(y)
    return w


WEIGHTS = train()


def handle(event, context):
    text = event.get("text", "")
    score = float(1.0 / (1.0 + np.exp(-vectorise(text) @ WEIGHTS)))
    return {
        "text": text,
        "label": "positive" if score >= 0.5 else "negative",
        "score": round(score, 4),
        "known_words": [w for w in tokens(text) if w in VOCAB],
    }
