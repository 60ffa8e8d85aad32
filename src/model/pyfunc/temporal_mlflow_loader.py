"""python_function loader for temporal-mlflow models.

MLflow imports this module from the model's ``code/`` folder (MLmodel: ``loader_module:
temporal_mlflow_loader``, ``code: code``) and calls ``_load_pyfunc(data_path)`` with the model
directory. Predictions are computed by the model's own JavaScript bundle, ``code/serve-stdio.mjs``,
run as one long-lived ``node`` child process that speaks line-delimited JSON on stdin/stdout:

    request : {"id": <n>, "records": [{...}, ...], "params": {...} | null}
    response: {"id": <n>, "predictions": ...}
              {"id": <n>, "error": {"type": "...", "message": "..."}}

The node binary is ``$TEMPORAL_MLFLOW_NODE`` or ``node`` on PATH. Calls are serialised with a lock
(MLflow's scoring server predicts from threads); the child is restarted if it died and terminated at
interpreter exit. Its stderr goes to this process's stderr.
"""

import atexit
import base64
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import threading

NODE_ENV_VAR = "TEMPORAL_MLFLOW_NODE"
STDIO_SCRIPT = os.path.join("code", "serve-stdio.mjs")

try:  # Raised as MlflowException so `mlflow models serve` answers 400 with our message.
    from mlflow.exceptions import MlflowException as _Base
    from mlflow.protos.databricks_pb2 import BAD_REQUEST as _BAD_REQUEST

    def _error(message):
        return TemporalMlflowPredictError(message, error_code=_BAD_REQUEST)

except ImportError:  # pragma: no cover - mlflow is always there when MLflow loads this module
    _Base = Exception

    def _error(message):
        return TemporalMlflowPredictError(message)


class TemporalMlflowPredictError(_Base):
    """The model's predict failed (the message is the JavaScript error's) or its node process died."""


def _find_model_dir(data_path):
    path = os.path.abspath(data_path)
    if os.path.isfile(path):
        path = os.path.dirname(path)
    for candidate in (path, os.path.dirname(path)):
        if os.path.isfile(os.path.join(candidate, "MLmodel")):
            return candidate
    return path


def _node_binary():
    node = os.environ.get(NODE_ENV_VAR) or shutil.which("node")
    if not node:
        raise RuntimeError(
            f"Cannot find the 'node' binary needed by this temporal-mlflow model: "
            f"put node (>= 20) on PATH or set {NODE_ENV_VAR} to its path"
        )
    return node


def _clean(value):
    """Makes a value JSON-safe: NaN/NaT → None, numpy → python, timestamps → ISO, bytes → base64."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (datetime.datetime, datetime.date)):
        try:
            import pandas as pd

            if value is pd.NaT:
                return None
        except ImportError:  # pragma: no cover
            pass
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _clean(value.tolist())
    if hasattr(value, "item"):
        return _clean(value.item())
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (ImportError, TypeError, ValueError):
        pass
    return str(value)


def _to_records(model_input):
    """A pandas DataFrame, a list of records, a {column: [values]} dict or one record → records."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(model_input, pd.DataFrame):
        return _clean(model_input.to_dict(orient="records"))
    if pd is not None and isinstance(model_input, pd.Series):
        return _clean(model_input.to_frame().to_dict(orient="records"))
    if isinstance(model_input, dict):
        values = list(model_input.values())
        if values and all(isinstance(v, (list, tuple)) or hasattr(v, "tolist") for v in values):
            if pd is not None:
                return _clean(pd.DataFrame(model_input).to_dict(orient="records"))
        return [_clean(model_input)]
    if isinstance(model_input, (list, tuple)) and all(isinstance(r, dict) for r in model_input):
        return _clean(list(model_input))
    raise TypeError(
        "temporal-mlflow models take a pandas DataFrame, a list of records or a {column: [values]} "
        f"dict; got {type(model_input).__name__}"
    )


def _as_output(predictions):
    """Records with the same keys and no nulls → a DataFrame (MLflow serialises it back as records)."""
    if isinstance(predictions, list) and predictions and all(isinstance(r, dict) for r in predictions):
        keys = list(predictions[0].keys())
        if all(list(r.keys()) == keys and None not in r.values() for r in predictions):
            try:
                import pandas as pd

                return pd.DataFrame(predictions, columns=keys)
            except ImportError:  # pragma: no cover
                pass
    return predictions


class _NodeModel:
    """The pyfunc model implementation: forwards predict to the node child process."""

    def __init__(self, model_dir):
        self.model_dir = model_dir
        self.script = os.path.join(model_dir, STDIO_SCRIPT)
        if not os.path.isfile(self.script):
            raise FileNotFoundError(f"temporal-mlflow model bundle not found: {self.script}")
        self._node = _node_binary()
        self._lock = threading.Lock()
        self._proc = None
        self._next_id = 0
        atexit.register(self.close)
        with self._lock:
            self._ensure_started()

    def _ensure_started(self):
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._proc = subprocess.Popen(
            [self._node, self.script, self.model_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # inherit: the child's logs go to our stderr
            cwd=self.model_dir,
        )
        return self._proc

    def predict(self, model_input, params=None):
        records = _to_records(model_input)
        with self._lock:
            proc = self._ensure_started()
            self._next_id += 1
            request_id = self._next_id
            line = json.dumps(
                {"id": request_id, "records": records, "params": _clean(params) if params else None},
                allow_nan=False,
                separators=(",", ":"),
            )
            try:
                proc.stdin.write(line.encode("utf-8") + b"\n")
                proc.stdin.flush()
                raw = proc.stdout.readline()
            except (BrokenPipeError, OSError) as e:
                self._discard(proc)
                raise _error(f"The model's node process is not running ({e}); it will be restarted") from e
            if not raw:
                code = self._discard(proc)
                raise _error(f"The model's node process exited (code {code}) before answering; see its stderr")
        response = json.loads(raw)
        if response.get("id") != request_id:
            with self._lock:
                self._discard(proc)
            raise _error(f"Out-of-order answer from the model's node process (expected id {request_id})")
        if "error" in response:
            err = response["error"] or {}
            raise _error(f"{err.get('type', 'Error')}: {err.get('message', '')}")
        return _as_output(response.get("predictions"))

    def _discard(self, proc):
        if self._proc is proc:
            self._proc = None
        try:
            proc.kill()
        except OSError:
            pass
        return proc.wait()

    def close(self):
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.stdin.close()  # the child's loop ends when its input ends
            proc.wait(timeout=2)
        except Exception:
            proc.kill()
            proc.wait()


def _load_pyfunc(data_path, model_config=None):
    """MLflow's loader entry point: ``data_path`` is the model directory (or a path inside it)."""
    return _NodeModel(_find_model_dir(data_path))


if __name__ == "__main__":  # manual check: python temporal_mlflow_loader.py <model_dir> '<json records>'
    model = _load_pyfunc(sys.argv[1])
    print(model.predict(json.loads(sys.argv[2])))
