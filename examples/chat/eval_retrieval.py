#!/usr/bin/env python3
"""Checks the retrieval on questions whose answer is in a known passage: prints, per question,
the rank of that passage among the 4 retrieved (or MISS), and the count found. docs/chat.md
quotes its figures.

    python3 examples/chat/eval_retrieval.py [DIMENSIONS]
"""
import os
import sys

import retrieval

# (question, the file that answers it, a phrase of the passage that does)
CASES = [
    ("How do I create an embedded table?", "tables.md", "kumo table create"),
    ("What happens when a function times out?", "architecture.md", "Timeout:"),
    ("How does Kumo scale to zero?", "autoscaling.md", "zero"),
    ("How do I upload a file with the S3 client?", "storage.md", "aws"),
    ("What is a dead letter?", "events.md", "dead-letter"),
    ("How is the duration of an invocation billed?", "metering.md", "rounded"),
    ("How do I connect an MQTT broker?", "connectors.md", "mqtt"),
    ("What does a table change record look like?", "tables.md", "eventName"),
    ("What is the largest item a table can hold?", "tables.md", "400 KB"),
    ("How are asynchronous invocations retried?", "events.md", "retries"),
    ("What is in the data directory?", "architecture.md", "kumo.db"),
    ("How do I watch a PostgreSQL table?", "tables.md", "dsn"),
    ("Which status code means throttled?", "functions.md", "429"),
    ("How many bytes can an object have?", "storage.md", "max_object_bytes"),
]


def main():
    if len(sys.argv) > 1:
        retrieval.DIMENSIONS = int(sys.argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    index = retrieval.Index(retrieval.load_passages(os.path.join(here, "docs")))
    print("%d passages, %d words, %d dimensions" % (
        len(index.passages), len(index.embedding.index), index.embedding.dimensions))
    found = 0
    for question, source, phrase in CASES:
        hits = index.search(question, 4)
        ranks = [i for i, (p, _) in enumerate(hits, 1)
                 if p.source == source and phrase.lower() in p.text.lower()]
        found += bool(ranks)
        print("%-48s %s" % (question, ranks[0] if ranks else "MISS"))
    print("found %d of %d" % (found, len(CASES)))


if __name__ == "__main__":
    main()
