"""The embedder's run path (issue 12): batches shared out among threads, with the real model.

``MiniLMEmbedder.embed`` runs the batches of one call on up to one thread per core
(the caller's and helpers started for the call) over one onnxruntime session. These
tests hold it to a plain sequential run of the same batches on a session of its own:
the same vectors in the same order, the helpers gone when ``embed`` returns (also
when a batch fails, whose error reaches the caller), and callers on several threads
at once each getting their own vectors. To see which thread ran which batch, or to
make one batch fail, the real session is wrapped (``Recording``): every call still
goes to the real model.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from claude_tui.core.vectors.embedder import (
    BATCH_SIZE,
    BATCH_TOKENS,
    DIMENSIONS,
    MAX_TOKENS,
    TOKENIZER,
    MiniLMEmbedder,
    _cores,
    _model_path,
    plan_batches,
)

SENTENCE = (
    "the parser retries failed requests three times before the billing service gives up "
    "and pages the on-call engineer who checks the cache layer logs in structured JSON "
    "while the nightly export waits for its database migration"
)
WORDS = SENTENCE.split(" ")


def texts_of(seed: int, n: int) -> list[str]:
    """``n`` texts of 1 to 200 words (some past the 128-token window), shuffled."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(1, 200))) for _ in range(n)]


class Sequential:
    """The plain run: the same tokenizer, batch plan and pooling, one batch after another."""

    def __init__(self) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(TOKENIZER))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = _cores()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            str(_model_path()), options, providers=["CPUExecutionProvider"]
        )

    def batches(self, texts: list[str]) -> list[list[int]]:
        lengths = [len(e.ids) for e in self.tokenizer.encode_batch(texts)]
        return plan_batches(lengths, BATCH_SIZE, BATCH_TOKENS)

    def embed(self, texts: list[str]) -> tuple[np.ndarray, list[bool]]:
        encodings = self.tokenizer.encode_batch(texts)
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for batch in self.batches(texts):
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(batch):
                ids[row, : len(encodings[i].ids)] = encodings[i].ids
                mask[row, : len(encodings[i].ids)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            (hidden,) = self.session.run(None, feeds)
            pooled = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            out[batch] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out, [bool(e.overflowing) for e in encodings]


class Recording:
    """The real session, noting the thread and input width of each call; may fail one."""

    def __init__(self, inner: Any, fail: str | None = None) -> None:
        self.inner = inner
        self.fail = fail  # "first": the first call fails; "helper": the first off the caller
        self.caller = threading.get_ident()
        self.calls: list[tuple[int, int]] = []
        self.threads_seen = 0
        self._lock = threading.Lock()
        # hold: the first helper call waits until the caller has made this many calls.
        self.hold: int | None = None
        self._held = False
        self._caller_calls = 0
        self._caller_done = threading.Event()

    def run(self, names: Any, feeds: dict[str, np.ndarray]) -> Any:
        me = threading.get_ident()
        with self._lock:
            self.calls.append((me, feeds["input_ids"].shape[1]))
            self.threads_seen = max(self.threads_seen, threading.active_count())
            failing = (self.fail == "first" and len(self.calls) == 1) or (
                self.fail == "helper" and me != self.caller
            )
            if failing:
                self.fail = None
            held = self.hold is not None and me != self.caller and not self._held
            self._held = self._held or held
            if me == self.caller:
                self._caller_calls += 1
                if self.hold is not None and self._caller_calls >= self.hold:
                    self._caller_done.set()
        if failing:
            raise RuntimeError("this batch failed")
        if held:
            assert self._caller_done.wait(timeout=60), "the caller never ran the others"
        return self.inner.run(names, feeds)


@pytest.fixture(scope="module")
def reference() -> Sequential:
    return Sequential()


@pytest.fixture(scope="module")
def model() -> MiniLMEmbedder:
    embedder = MiniLMEmbedder()
    embedder.embed_one("warm up")
    return embedder


@pytest.fixture
def recording(model: MiniLMEmbedder) -> Iterator[Recording]:
    real = model._session
    model._session = Recording(real)
    try:
        yield model._session
    finally:
        model._session = real


def test_vectors_are_those_of_a_plain_sequential_run_in_input_order(
    model: MiniLMEmbedder, reference: Sequential
) -> None:
    texts = texts_of(1, 40)
    assert len(reference.batches(texts)) >= 6  # enough to share out
    want, cut = reference.embed(texts)
    got = model.embed(texts)
    assert np.asarray(got.vectors).shape == (40, DIMENSIONS)
    assert np.allclose(np.asarray(got.vectors, dtype=np.float32), want, atol=1e-6, rtol=0)
    assert got.truncated == cut and any(cut) and not all(cut)


def test_batches_run_on_one_thread_per_core_widest_first(
    model: MiniLMEmbedder, reference: Sequential, recording: Recording
) -> None:
    texts = texts_of(2, 30)
    before = set(threading.enumerate())
    model.embed(texts)
    assert set(threading.enumerate()) == before
    batches = reference.batches(texts)
    assert len(recording.calls) == len(batches)
    used = {thread for thread, _ in recording.calls}
    assert len(used) == min(_cores(), len(batches)) and recording.caller in used
    assert recording.threads_seen >= len(before) + min(_cores(), len(batches)) - 1
    widths = [width for _, width in recording.calls]
    assert widths[0] == max(widths)  # the costliest batches are taken first


def test_embed_returns_after_its_helpers_end(
    model: MiniLMEmbedder, reference: Sequential, recording: Recording
) -> None:
    texts = texts_of(4, 12)
    batches = reference.batches(texts)
    want, _ = reference.embed(texts)
    # The helper's first batch is held until the caller has run every other one, so
    # the caller runs out of batches while the helper still has one to finish.
    recording.hold = len(batches) - 1 if _cores() > 1 else None
    before = set(threading.enumerate())
    got = model.embed(texts)
    assert set(threading.enumerate()) == before
    assert np.allclose(np.asarray(got.vectors, dtype=np.float32), want, atol=1e-6, rtol=0)
    on_caller = sum(thread == recording.caller for thread, _ in recording.calls)
    assert on_caller == (len(batches) - 1 if _cores() > 1 else len(batches))


def test_empty_and_single_inputs_run_on_the_calling_thread(
    model: MiniLMEmbedder, reference: Sequential, recording: Recording
) -> None:
    before = set(threading.enumerate())
    empty = model.embed([])
    assert empty.vectors == [] and empty.truncated == []
    assert recording.calls == []
    one = model.embed(["where does the parser write its logs?"])
    want, _ = reference.embed(["where does the parser write its logs?"])
    assert np.allclose(np.asarray(one.vectors, dtype=np.float32), want, atol=1e-6, rtol=0)
    vector, truncated = model.embed_one("how long does the cache wait before giving up?")
    assert len(vector) == DIMENSIONS and not truncated
    assert [thread for thread, _ in recording.calls] == [recording.caller] * 2
    assert recording.threads_seen == len(before)  # no helper started
    assert set(threading.enumerate()) == before


def test_callers_on_several_threads_at_once_each_get_their_own_vectors(
    model: MiniLMEmbedder, reference: Sequential
) -> None:
    # The indexer's thread with a long list, searches with one query each, at once.
    work = [texts_of(10 + k, 20) for k in range(3)] + [
        ["which database does the parser use?"],
        ["who gets paged when the export fails?"],
    ]
    want = [reference.embed(texts)[0] for texts in work]
    start = threading.Barrier(len(work))
    got: list[Any] = [None] * len(work)
    errors: list[BaseException] = []
    before = set(threading.enumerate())

    def caller(k: int) -> None:
        try:
            start.wait(timeout=60)
            for _ in range(2):
                got[k] = np.asarray(model.embed(work[k]).vectors, dtype=np.float32)
                assert np.allclose(got[k], want[k], atol=1e-6, rtol=0), k
        except BaseException as exc:
            errors.append(exc)

    callers = [threading.Thread(target=caller, args=(k,)) for k in range(len(work))]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join()
    assert errors == []
    assert all(g is not None and len(g) == len(w) for g, w in zip(got, work, strict=True))
    assert set(threading.enumerate()) == before


# "helper": the failure comes from a thread the call started (there is none on one core).
@pytest.mark.parametrize("where", ["first", "helper"] if _cores() > 1 else ["first"])
def test_a_failing_batch_is_raised_to_the_caller_and_stops_the_others(
    model: MiniLMEmbedder, reference: Sequential, recording: Recording, where: str
) -> None:
    texts = texts_of(3, 40)
    batches = reference.batches(texts)
    assert len(batches) >= 8
    recording.fail = where
    before = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="this batch failed"):
        model.embed(texts)
    assert set(threading.enumerate()) == before
    # The failure stops the others taking batches: each ends at most the one it has.
    if where == "first":
        assert len(recording.calls) <= 1 + _cores() < len(batches)
    else:
        assert len(recording.calls) < len(batches)
    # And the embedder is whole: the next call gives the right vectors.
    want, _ = reference.embed(texts)
    got = np.asarray(model.embed(texts).vectors, dtype=np.float32)
    assert np.allclose(got, want, atol=1e-6, rtol=0)
