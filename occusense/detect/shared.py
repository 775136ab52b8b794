"""One detector pool for many cameras (issue 20): the cameras' inferences go
through one shared ONNX Runtime session per model, batched across cameras
where that was measured to pay (an accelerator).

Each camera keeps its own :class:`~occusense.detect.detector.OnnxDetector`
(its thresholds, its input scheme, its decoding); only the network is shared:
:class:`BatchingEngine` is an :class:`~occusense.detect.engines.
InferenceEngine` whose ``run`` puts the input on a queue and waits. A worker
thread takes the oldest request and, while every other worker is busy, adds
the waiting requests of the same input shape (up to ``max_batch``, waiting
at most ``linger_s`` for more), runs them as one batch and hands each camera
its slice of the outputs.

Why not one session per camera: each loads the model again (measured: 109
MB more per camera, against 29-40 MB with the pool) and N sessions on 2
cores fight for them; the pool runs one session, ``workers`` inferences at
once (one per core), for every camera.

Whether a model can be batched is measured, not assumed: at start the pool
runs two different inputs one by one and as a batch of two and compares the
outputs. Models that put the batch on the first axis, that lay a batch's
anchors end to end (``[1, B*anchors, C]``), and the bundled NanoDet export,
whose graph (converted from TensorFlow for one image) reshapes a batch into
``[1, C, B*anchors]`` before its last transpose, are recognised and split back
exactly; a model whose batch does not split back into the single answers runs
one input at a time.

A remote KServe/Triton model needs no client-side batching: the cameras share
one :class:`~occusense.detect.engines.KServeEngine` (one connection pool) and
call it concurrently, and the server's dynamic batching joins the requests.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from occusense.config.device import DetectorSettings as DetectorConfig
from occusense.detect.engines import InferenceEngine, InferenceError, KServeEngine, OnnxEngine

log = logging.getLogger(__name__)

AUTO = 0  # max_batch: batch on an accelerator, not on the CPU
ACCELERATOR_BATCH = 8
PROBE_SIDE = 416  # a dynamic input is probed at the bundled model's size
SPLIT_TOLERANCE = 1e-3  # batched outputs may differ from single ones by rounding only


@dataclass
class _Request:
    names: list[str]
    feeds: dict[str, np.ndarray]
    answer: Future = field(default_factory=Future)

    @property
    def key(self) -> tuple:
        """Requests batch together when every input and output matches in shape."""
        return (tuple(self.names),
                tuple((n, a.shape[1:], a.dtype.str) for n, a in sorted(self.feeds.items())))


Split = Callable[[np.ndarray, int], list[np.ndarray]]


def _first_axis(out: np.ndarray, n: int) -> list[np.ndarray]:
    """``[B, ...]``: the usual batch."""
    return np.split(out, n, axis=0)


def _anchors(out: np.ndarray, n: int) -> list[np.ndarray]:
    """``[1, B*anchors, C]`` with each image's anchors in turn."""
    return np.split(out, n, axis=1)


def _channels_flat(out: np.ndarray, n: int) -> list[np.ndarray]:
    """``[1, B*anchors, C]`` made by reshaping ``[B, C, anchors]`` to
    ``[1, C, B*anchors]`` and transposing: the bundled NanoDet export (its
    TensorFlow graph assumed one image). The memory is batch-major, so the
    reshape is undone exactly."""
    channels = out.shape[2]
    per_image = out[0].T.reshape(n, channels, -1).transpose(0, 2, 1)
    return [image[None] for image in per_image]


SPLITS: tuple[Split, ...] = (_first_axis, _anchors, _channels_flat)


def _splits(engine: InferenceEngine, names: list[str], feeds: Callable[[int], dict]) -> list[
        Split] | None:
    """Per output, how a batch of two splits back into the two single
    answers (tried in :data:`SPLITS` order), or None when it does not."""
    one, two = feeds(0), feeds(1)
    singles = [engine.run(names, one), engine.run(names, two)]
    both = {n: np.concatenate([one[n], two[n]]) for n in one}
    try:
        batched = engine.run(names, both)
    except Exception as exc:  # any refusal means: no batching
        log.info("the model refuses a batch of two (%s): one input at a time", exc)
        return None
    found = []
    for i, out in enumerate(batched):
        wanted = [singles[0][i], singles[1][i]]
        split = next((s for s in SPLITS if _splits_into(s, out, wanted)), None)
        if split is None:
            log.info("the model's output %s does not split by image: one input at a time",
                     names[i])
            return None
        found.append(split)
    return found


def _splits_into(split: Split, out: np.ndarray, wanted: list[np.ndarray]) -> bool:
    try:
        parts = split(out, len(wanted))
    except (ValueError, IndexError):
        return False
    return all(p.shape == w.shape and np.allclose(p, w, atol=SPLIT_TOLERANCE)
               for p, w in zip(parts, wanted, strict=True))


def _cpu_only(engine: InferenceEngine) -> bool:
    providers = getattr(engine, "providers", ["CPUExecutionProvider"])
    return all(p == "CPUExecutionProvider" for p in providers)


class BatchingEngine:
    """An inference engine shared by many detectors (threads), batching their
    inputs across cameras.

    Args:
        engine: the network (one ONNX Runtime session; concurrent runs of
            one session are safe and each takes its own core when the session
            has one intra-op thread); closed by :meth:`shutdown`.
        workers: inferences run at once (2 of 1 thread each fit a 2-core box).
        max_batch: most inputs in one batch; 1 turns batching off (the pool
            then only shares the sessions); 0 (auto): off on the CPU, where
            it was measured to buy nothing (bench/RESULTS.md, eighth
            session), 8 on an accelerator.
        linger_s: how long a worker waits for more inputs once it has one.
    """

    def __init__(self, engine: InferenceEngine, workers: int = 1,
                 max_batch: int = 8, linger_s: float = 0.002) -> None:
        self._engine = first = engine
        self.workers = max(1, workers)
        self.input_name = first.input_name
        self.input_shape = first.input_shape
        self.output_names = first.output_names
        self._output_index = {n: i for i, n in enumerate(self.output_names)}
        self.size_inputs: list[str] = list(getattr(first, "size_inputs", []))
        self.linger_s = linger_s
        if max_batch == AUTO:
            max_batch = 1 if _cpu_only(first) else ACCELERATOR_BATCH
        self.splits = self._probe() if max_batch > 1 else None
        self.max_batch = max_batch if self.splits is not None else 1
        self.batches = 0  # inferences run, for the bench
        self.inputs = 0  # inputs answered
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._held: list[_Request] = []  # taken from the queue, of another shape
        self._lock = threading.Lock()
        self._busy = 0  # workers running an inference (this one included)
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"inference {i}")
                         for i in range(self.workers)]
        for thread in self._threads:
            thread.start()
        where = getattr(first, "where", "ONNX Runtime")
        batching = f"batches of up to {self.max_batch}" if self.max_batch > 1 else "no batching"
        self.where = (f"{where}, shared by the cameras, {self.workers} inference(s) at once, "
                      f"{batching}")

    def _probe(self) -> list[Split] | None:
        side = [d if isinstance(d, int) and d > 0 else PROBE_SIDE for d in self.input_shape[2:4]]
        rng = np.random.default_rng(0)

        def feeds(seed: int) -> dict[str, np.ndarray]:
            image = rng.random((1, 3, *side), dtype=np.float32) * (seed + 1) / 2
            extra = {n: np.array([[side[1], side[0]]], np.int64) for n in self.size_inputs}
            return {self.input_name: image, **extra}

        if self.input_shape and isinstance(self.input_shape[0], int) and self.input_shape[0] == 1:
            return None  # a batch dimension fixed at 1
        return _splits(self._engine, self.output_names, feeds)

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """One inference, batched with other cameras' waiting ones."""
        request = _Request(names, feeds)
        self._queue.put(request)
        return request.answer.result()

    def _take(self) -> _Request | None:
        """The next request: one held back for its shape first, else the
        queue's oldest (waiting for one); None to stop."""
        with self._lock:
            if self._held:
                return self._held.pop(0)
        return self._queue.get()

    def _gather(self, first: _Request) -> list[_Request]:
        """``first`` and other waiting requests of its shape, up to max_batch,
        but only while every other worker is busy: an idle worker runs the
        next request at once, in parallel, rather than it joining a batch
        (measured on 2 cores: one session batching everything left the other
        core idle, 20% slower)."""
        batch = [first]
        with self._lock:
            if self._busy < self.workers:
                return batch
        deadline = time.monotonic() + self.linger_s
        while len(batch) < self.max_batch:
            try:
                more = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if more is None:
                self._queue.put(None)  # the stop is for every worker
                break
            if more.key == first.key:
                batch.append(more)
            else:
                with self._lock:
                    self._held.append(more)
        return batch

    def _work(self) -> None:
        engine = self._engine
        while True:
            first = self._take()
            if first is None:
                self._queue.put(None)
                return
            with self._lock:
                self._busy += 1
            batch = [first]
            try:
                batch = self._gather(first) if self.max_batch > 1 else [first]
                answers = self._infer(engine, batch)
            except Exception as exc:  # every waiting camera hears of it
                error = exc if isinstance(exc, InferenceError) else InferenceError(str(exc))
                for request in batch:
                    request.answer.set_exception(error)
                continue
            finally:
                with self._lock:
                    self._busy -= 1
            for request, answer in zip(batch, answers, strict=True):
                request.answer.set_result(answer)

    def _infer(self, engine: InferenceEngine, batch: list[_Request]) -> list[list[np.ndarray]]:
        names = batch[0].names
        with self._lock:
            self.batches += 1
            self.inputs += len(batch)
        if len(batch) == 1:
            return [engine.run(names, batch[0].feeds)]
        feeds = {n: np.concatenate([r.feeds[n] for r in batch]) for n in batch[0].feeds}
        outputs = engine.run(names, feeds)
        assert self.splits is not None
        parts = [self.splits[self._output_index[n]](out, len(batch))
                 for n, out in zip(names, outputs, strict=True)]
        return [[p[i] for p in parts] for i in range(len(batch))]

    def shutdown(self) -> None:
        """Stop the workers (after the queued inferences) and close the sessions."""
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        close = getattr(self._engine, "close", None)
        if close is not None:
            close()


class Borrowed:
    """A camera's handle on a shared engine: everything the engine does, but
    ``close`` leaves it running for the other cameras."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def close(self) -> None:
        """The pool closes the engine when the service stops."""


class DetectorPool:
    """The engines the cameras of one service share, one per model (or
    remote endpoint).

    Args:
        workers: inferences at once per local model.
        max_batch: most cameras' inputs in one local inference (1: no
            batching; 0: auto, batching on an accelerator only).
        linger_s: how long a local worker waits for more inputs to batch.
    """

    def __init__(self, workers: int = 2, max_batch: int = AUTO, linger_s: float = 0.002) -> None:
        self.workers, self.max_batch, self.linger_s = workers, max_batch, linger_s
        self._engines: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def engine_for(self, config: DetectorConfig, model: Path) -> InferenceEngine:
        """The shared engine for this detector configuration (built once)."""
        if config.remote_url:
            key: tuple = ("remote", config.remote_url, config.remote_binary,
                          config.remote_timeout_s, config.remote_ca_file)
        else:
            key = ("local", str(model.resolve()), config.providers)
        with self._lock:
            if key not in self._engines:
                self._engines[key] = self._build(config, model)
            return Borrowed(self._engines[key])

    def _build(self, config: DetectorConfig, model: Path) -> Any:
        if config.remote_url:
            return KServeEngine(config.remote_url, config.remote_binary,
                                config.remote_timeout_s, config.remote_ca_file)
        threads = max(1, config.threads // self.workers)
        return BatchingEngine(OnnxEngine(model, threads, config.providers),
                              self.workers, self.max_batch, self.linger_s)

    def describe(self) -> str:
        """The pool's engines, for the site's About page."""
        with self._lock:
            engines = [getattr(e, "where", "") for e in self._engines.values()]
        return "; ".join(engines) or "no camera has started a detector yet"

    def stats(self) -> dict[str, tuple[int, int]]:
        """Per local model: (inferences run, inputs answered)."""
        with self._lock:
            return {key[1]: (e.batches, e.inputs) for key, e in self._engines.items()
                    if isinstance(e, BatchingEngine)}

    def close(self) -> None:
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            if isinstance(engine, BatchingEngine):
                engine.shutdown()
            else:
                engine.close()
