"""A KServe v2 inference server for the tests: real HTTP(S), the protocol's
model metadata and infer endpoints (JSON tensors, and Triton's binary tensor
extension), the bundled ONNX model run by ONNX Runtime."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import onnxruntime as ort
import trustme

from occusense.detect.detector import DEFAULT_MODEL

HEADER = "Inference-Header-Content-Length"


class KServeServer:
    """Serves ``nanodet`` at ``/v2/models/nanodet``; ``failing`` answers 503."""

    def __init__(self, tls: trustme.CA | None = None) -> None:
        self.session = ort.InferenceSession(str(DEFAULT_MODEL), providers=["CPUExecutionProvider"])
        self.requests = 0
        self.in_flight = 0
        self.most_at_once = 0  # the most inference requests being answered at one time
        self._count = threading.Lock()
        self.failing = False
        self.binary_requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.rstrip("/") != "/v2/models/nanodet":
                    return self._reply(404, b'{"error": "no such model"}')
                return self._reply(200, json.dumps(server.metadata()).encode())

            def do_POST(self) -> None:
                if self.path != "/v2/models/nanodet/infer":
                    return self._reply(404, b'{"error": "no such model"}')
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if server.failing:
                    return self._reply(503, b'{"error": "overloaded"}')
                size = int(self.headers.get(HEADER, len(body)))
                with server._count:
                    server.in_flight += 1
                    server.most_at_once = max(server.most_at_once, server.in_flight)
                try:
                    status, reply, head = server.infer(json.loads(body[:size]), body[size:])
                finally:
                    with server._count:
                        server.in_flight -= 1
                self._reply(status, reply, head)

            def _reply(self, status: int, body: bytes, head: int | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if head is None
                                 else "application/octet-stream")
                if head is not None:
                    self.send_header(HEADER, str(head))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/v2/models/nanodet"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def metadata(self) -> dict:
        def tensor(t) -> dict:
            shape = [d if isinstance(d, int) else -1 for d in t.shape]
            return {"name": t.name, "datatype": "FP32", "shape": shape}

        return {"name": "nanodet", "platform": "onnxruntime_onnx", "versions": ["1"],
                "inputs": [tensor(t) for t in self.session.get_inputs()],
                "outputs": [tensor(t) for t in self.session.get_outputs()]}

    def infer(self, request: dict, blob: bytes) -> tuple[int, bytes, int | None]:
        self.requests += 1
        feeds, at = {}, 0
        for tensor in request["inputs"]:
            size = tensor.get("parameters", {}).get("binary_data_size")
            if size is None:
                data = np.asarray(tensor["data"], np.float32)
            else:
                data = np.frombuffer(blob[at : at + size], "<f4")
                at += size
                self.binary_requests += 1
            feeds[tensor["name"]] = data.reshape(tensor["shape"])
        names = [o["name"] for o in request["outputs"]]
        results = self.session.run(names, feeds)
        outputs, blobs = [], []
        for wanted, array in zip(request["outputs"], results, strict=True):
            out = {"name": wanted["name"], "datatype": "FP32", "shape": list(array.shape)}
            if wanted.get("parameters", {}).get("binary_data"):
                raw = np.ascontiguousarray(array, "<f4").tobytes()
                out["parameters"] = {"binary_data_size": len(raw)}
                blobs.append(raw)
            else:
                out["data"] = array.ravel().tolist()
            outputs.append(out)
        head = json.dumps({"model_name": "nanodet", "outputs": outputs}).encode()
        return 200, head + b"".join(blobs), len(head) if blobs else None

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
