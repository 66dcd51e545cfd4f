"""Passages and search for the chat example: the shipped Markdown cut into passages, an
offline embedding, and an hnswlib index over it.

The embedding is LSA (latent semantic analysis): TF-IDF word vectors of the passages,
projected on the top singular vectors of the passage-term matrix (numpy's SVD). It needs no
download and no network; it is fitted on the shipped text in the init phase. It matches words
and words that co-occur with them in this corpus, not meanings: a question that shares no word
with the documents finds nothing useful (see docs/chat.md).
"""
import os
import re
from collections import Counter

import hnswlib
import numpy as np

PASSAGE_WORDS = 120  # a passage is about this long: a paragraph or two, one code block
DIMENSIONS = 128     # LSA dimensions kept (at most the number of passages)
CONTEXT_WEIGHT = 0.5  # of the previous question in a search

STOPWORDS = frozenset("""a an and are as at be been by can do does for from has have how i if in
into is it its me my no not of on or so than that the their them then there these this those to
was we what when where which who why will with you your""".split())


class Passage:
    def __init__(self, source, title, text):
        self.source, self.title, self.text = source, title, text

    def as_dict(self, score=None):
        d = {"source": self.source, "title": self.title, "text": self.text}
        if score is not None:
            d["score"] = round(float(score), 4)
        return d


def _blocks(lines):
    """Paragraphs and whole code blocks, each with the heading path it sits under."""
    headings, block, fenced = [], [], False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        heading = re.match(r"(#{1,4}) +(.*)", line) if not fenced else None
        if heading or (not fenced and not line.strip()):
            if block:
                yield list(headings), "\n".join(block)
                block = []
            if heading:
                level = len(heading.group(1))
                headings = headings[:level - 1] + [heading.group(2).strip()]
            continue
        block.append(line)
    if block:
        yield list(headings), "\n".join(block)


def _pieces(block):
    """A block longer than a passage (a long table or code block) cut at line ends."""
    piece, words = [], 0
    for line in block.splitlines():
        n = len(line.split())
        if piece and words + n > PASSAGE_WORDS:
            yield "\n".join(piece)
            piece, words = [], 0
        piece.append(line)
        words += n
    if piece:
        yield "\n".join(piece)


def split_markdown(source, text):
    """Cuts one document into passages: blocks under the same heading are joined until a
    passage holds about PASSAGE_WORDS words; a heading always starts a new passage."""
    passages, current, words, current_heads = [], [], 0, None
    pieces = ((heads, piece) for heads, block in _blocks(text.splitlines())
              for piece in _pieces(block))
    for heads, piece in pieces:
        n = len(piece.split())
        if current and (heads != current_heads or words + n > PASSAGE_WORDS):
            passages.append(Passage(source, " › ".join(current_heads), "\n\n".join(current)))
            current, words = [], 0
        current.append(piece)
        current_heads = heads
        words += n
    if current:
        passages.append(Passage(source, " › ".join(current_heads), "\n\n".join(current)))
    return passages


def load_passages(folder):
    passages = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".md"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                passages += split_markdown(name, f.read())
    return passages


def tokens(text):
    out = []
    for word in re.findall(r"[a-z0-9_]+", text.lower()):
        if word in STOPWORDS or len(word) < 2:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]  # a plural and its singular count as one word
        out.append(word)
    return out


class Embedding:
    """TF-IDF over the corpus's vocabulary, then an LSA projection; unit vectors."""

    def __init__(self, texts, dimensions=None):
        dimensions = dimensions or DIMENSIONS
        counts = [Counter(tokens(t)) for t in texts]
        vocab = sorted({w for c in counts for w in c})
        self.index = {w: i for i, w in enumerate(vocab)}
        df = np.zeros(len(vocab))
        for c in counts:
            for w in c:
                df[self.index[w]] += 1
        self.idf = np.log((1 + len(texts)) / (1 + df)) + 1
        tfidf = np.stack([self._tfidf(c) for c in counts])
        _, _, vt = np.linalg.svd(tfidf, full_matrices=False)
        self.basis = vt[:dimensions].T.astype(np.float32)  # vocabulary x dimensions
        self.dimensions = self.basis.shape[1]

    def _tfidf(self, counter):
        v = np.zeros(len(self.index))
        for w, n in counter.items():
            i = self.index.get(w)
            if i is not None:
                v[i] = (1 + np.log(n)) * self.idf[i]
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    def embed(self, texts):
        """Unit vectors (len(texts) x dimensions); a text with no known word embeds as 0."""
        x = np.stack([self._tfidf(Counter(tokens(t))) for t in texts]).astype(np.float32)
        y = x @ self.basis
        norms = np.linalg.norm(y, axis=1, keepdims=True)
        return y / np.where(norms > 0, norms, 1)


class Index:
    """The passages, their embedding, and an hnswlib index (cosine) over them."""

    def __init__(self, passages):
        self.passages = passages
        texts = [p.title + "\n" + p.text for p in passages]
        self.embedding = Embedding(texts)
        self.hnsw = hnswlib.Index(space="cosine", dim=self.embedding.dimensions)
        self.hnsw.init_index(max_elements=len(passages), ef_construction=200, M=16)
        vectors = self.embedding.embed(texts)
        self.hnsw.add_items(vectors, np.arange(len(passages)), num_threads=1)
        self.hnsw.set_ef(64)
        self.hnsw.set_num_threads(1)

    def search(self, question, k=4, context=""):
        """The k passages nearest the question, best first, as (passage, cosine similarity).
        `context` (the previous question) pulls the search towards its subject at half weight,
        so that a follow-up finds its subject without a new question losing its own."""
        q, c = self.embedding.embed([question, context])
        q = q + CONTEXT_WEIGHT * c
        if not q.any():
            return []
        q /= np.linalg.norm(q)
        labels, distances = self.hnsw.knn_query(q, k=min(k, len(self.passages)))
        return [(self.passages[i], 1.0 - d) for i, d in zip(labels[0], distances[0])]
