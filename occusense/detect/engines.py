"""Where a detector's network runs: ONNX Runtime here, or a remote inference
server speaking the KServe v2 / Triton protocol (SPEC P2, issue 4).

The detector (``detect.detector``) does everything around the network itself
(resizing, tiling, decoding, NMS), so a remote server only runs the model:
a fleet of sensors can share a GPU box while counting stays identical to
local inference. :class:`KServeEngine` speaks the KServe v2 REST protocol
with httpx: ``GET /v2/models/<name>`` for the tensor names, then ``POST
/v2/models/<name>/infer`` per inference, with tensors as raw little-endian
bytes (Triton's binary tensor extension: far smaller and faster than
JSON number lists) or, with ``binary=False``, as plain JSON as every KServe
v2 server accepts. TLS is verified by default (a private CA via ``ca_file``).
"""

from __future__ import annotations

import json
import logging
import ssl
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np
import onnxruntime as ort

from occusense.errors import OccusenseError

log = logging.getLogger(__name__)

DTYPES = {"FP32": np.float32, "FP16": np.float16, "INT64": np.int64, "INT32": np.int32,
          "UINT8": np.uint8}
HEADER = "Inference-Header-Content-Length"


class InferenceError(OccusenseError):
    """The inference engine could not run the model."""


class UsesEngine:
    """What a detector on an :class:`InferenceEngine` does around it: let go
    of the engine, and count (and log now and then) frames whose inference
    failed, which then have no detections: the sensor goes on."""

    engine: InferenceEngine
    failures: int = 0

    def close(self) -> None:
        """Let go of the engine's connections (a remote server's keep-alives)."""
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()

    def failed(self, exc: Exception):
        from occusense.detect.base import Detections

        self.failures += 1
        if self.failures == 1 or self.failures % 100 == 0:
            log.warning("detection failed (%d frame(s) so far): %s", self.failures, exc)
        return Detections.empty()


class InferenceEngine(Protocol):
    """Runs one network: named float32 inputs in, named outputs out."""

    input_name: str
    input_shape: list[int | str | None]  # e.g. [1, 3, 416, 416]; a str/None/-1 is dynamic
    output_names: list[str]

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...


# the accelerators ONNX Runtime may have been built with, best first; the
# CPU is always there and always last
PREFERRED_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "OpenVINOExecutionProvider",
    "CPUExecutionProvider",
)


def choose_providers(wanted: str = "auto") -> list[str]:
    """The execution providers to ask for: ``auto`` = every installed one of
    :data:`PREFERRED_PROVIDERS` (an onnxruntime-gpu or -openvino install
    brings them), else the comma-separated names given, which must be
    installed."""
    available = ort.get_available_providers()
    if wanted == "auto":
        return [p for p in PREFERRED_PROVIDERS if p in available] or ["CPUExecutionProvider"]
    names = [p.strip() for p in wanted.split(",") if p.strip()]
    missing = [p for p in names if p not in available]
    if missing:
        raise InferenceError(
            f"execution provider(s) {', '.join(missing)} not installed; "
            f"this ONNX Runtime has {', '.join(available)}"
        )
    return names


class OnnxEngine:
    """ONNX Runtime on this machine: an accelerator when one is installed,
    else the CPU.

    Args:
        model_path: the ONNX file.
        threads: intra-op threads of one inference (CPU).
        providers: ``auto`` or comma-separated ONNX Runtime provider names.
    """

    def __init__(self, model_path: Path, threads: int, providers: str = "auto") -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle worker threads sleep instead of spinning: on 2 cores a spinning
        # pool steals the decoder's and other cameras' time
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # no pre-planned memory blocks: measured (bench/RESULTS.md, sixth
        # session) 33 MB less resident (398 -> 365 MB) with the whole frame's
        # input, the defaults as fast (42-43 -> 44-45 frames/s), tiles 3% slower
        options.enable_mem_pattern = False
        try:
            self._session = ort.InferenceSession(
                str(model_path), options, providers=choose_providers(providers)
            )
        except (ort.capi.onnxruntime_pybind11_state.Fail,
                ort.capi.onnxruntime_pybind11_state.InvalidGraph,
                ort.capi.onnxruntime_pybind11_state.InvalidProtobuf) as exc:
            raise InferenceError(f"{model_path.name}: not a model ONNX Runtime can load "
                                 f"({str(exc).splitlines()[0][:200]})") from None
        inputs = self._session.get_inputs()
        self.input_name = inputs[0].name
        self.input_shape = list(inputs[0].shape)
        # a second input of 2 integers is a DETR's (width, height) of the image
        self.size_inputs = [i.name for i in inputs[1:] if "int" in i.type]
        self.output_names = [o.name for o in self._session.get_outputs()]
        self.providers = self._session.get_providers()
        self.where = ", ".join(p.removesuffix("ExecutionProvider") for p in self.providers)

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self._session.run(names, feeds)


class KServeEngine:
    """A model on a KServe v2 / Triton inference server.

    Args:
        url: the model's endpoint, e.g. ``http://gpu-box:8000/v2/models/nanodet``.
        binary: send and receive tensors as raw bytes (Triton's binary
            extension); False for plain JSON.
        timeout_s: per request.
        ca_file: a PEM CA bundle for a server with a private certificate.
    """

    def __init__(self, url: str, binary: bool = True, timeout_s: float = 5.0,
                 ca_file: str = "") -> None:
        self.url = url.rstrip("/")
        self.binary = binary
        try:
            verify = ssl.create_default_context(cafile=ca_file) if ca_file else True
        except (OSError, ssl.SSLError) as exc:
            raise InferenceError(f"CA file {ca_file!r}: {exc}") from exc
        self._client = httpx.Client(timeout=timeout_s, verify=verify)
        meta = self._metadata()
        try:
            first = meta["inputs"][0]
            self.input_name = first["name"]
            self.input_shape = [d if d != -1 else None for d in first["shape"]]
            self.output_names = [o["name"] for o in meta["outputs"]]
            self.size_inputs = [i["name"] for i in meta["inputs"][1:]
                                if str(i.get("datatype", "")).startswith(("INT", "UINT"))]
            self.where = self.url
        except (KeyError, IndexError, TypeError) as exc:
            raise InferenceError(f"{self.url}: model metadata without inputs/outputs") from exc

    def _metadata(self) -> dict:
        try:
            reply = self._client.get(self.url)
            reply.raise_for_status()
            return reply.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise InferenceError(f"inference server {self.url}: {exc}") from exc

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """One inference; raises :class:`InferenceError` on any failure."""
        try:
            reply = self._client.post(f"{self.url}/infer", **self._request(names, feeds))
            reply.raise_for_status()
            outputs = self._outputs(reply)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise InferenceError(f"inference at {self.url} failed: {exc}") from exc
        return [outputs[n] for n in names]

    def _request(self, names: list[str], feeds: dict[str, np.ndarray]) -> dict:
        inputs, blobs = [], []
        for name, array in feeds.items():
            whole = np.issubdtype(array.dtype, np.integer)  # a DETR's image size
            tensor: dict[str, Any] = {"name": name, "shape": list(array.shape),
                                      "datatype": "INT64" if whole else "FP32"}
            data = np.ascontiguousarray(array, dtype="<i8" if whole else "<f4")
            if self.binary:
                tensor["parameters"] = {"binary_data_size": data.nbytes}
                blobs.append(data.tobytes())
            else:
                tensor["data"] = data.ravel().tolist()
            inputs.append(tensor)
        wanted = [{"name": n, "parameters": {"binary_data": self.binary}} for n in names]
        header = json.dumps({"inputs": inputs, "outputs": wanted}).encode()
        if not self.binary:
            return {"content": header, "headers": {"Content-Type": "application/json"}}
        return {
            "content": header + b"".join(blobs),
            "headers": {HEADER: str(len(header)), "Content-Type": "application/octet-stream"},
        }

    def _outputs(self, reply: httpx.Response) -> dict[str, np.ndarray]:
        body = reply.content
        size = int(reply.headers.get(HEADER, len(body)))
        header, at, out = json.loads(body[:size]), size, {}
        for tensor in header["outputs"]:
            dtype = np.dtype(DTYPES[tensor["datatype"]]).newbyteorder("<")
            nbytes = tensor.get("parameters", {}).get("binary_data_size")
            if nbytes is None:
                array = np.asarray(tensor["data"], dtype=dtype)
            else:
                array = np.frombuffer(body[at : at + nbytes], dtype=dtype)
                at += nbytes
            out[tensor["name"]] = array.reshape(tensor["shape"]).astype(np.float32)
        return out

    def close(self) -> None:
        self._client.close()
