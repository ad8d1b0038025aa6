"""The comparison point for bench/serving_bench.py: a model behind a one-file Python standard
library HTTP server (ThreadingHTTPServer), predicting each request on its own — what a
minimal Python model server does.

    python3 stdlib_model_server.py MODEL_PKL PORT [records]

With `records`, requests are {"dataframe_records": [...]} and the model gets a DataFrame (a
pipeline over typed columns); otherwise {"instances": [[...]]} as a float64 matrix.
"""
import http.server
import json
import pickle
import sys

import numpy as np


def main(model_file, port, form="instances"):
    with open(model_file, "rb") as f:
        model = pickle.load(f)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
        disable_nagle_algorithm = True  # else every answer waits ~40 ms for a delayed ACK

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                if form == "records":
                    import pandas as pd
                    rows = pd.DataFrame(json.loads(body)["dataframe_records"])
                else:
                    rows = np.asarray(json.loads(body)["instances"], dtype=np.float64)
                answer = json.dumps({"predictions": model.predict(rows).tolist()}).encode()
                status = 200
            except Exception as error:  # noqa: BLE001
                answer = json.dumps({"message": str(error)}).encode()
                status = 400
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    server.daemon_threads = True
    print(f"listening on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:])
