"""python_function loader for temporal-mlflow models.

MLflow imports this module from the model's ``code/`` folder (MLmodel: ``loader_module:
temporal_mlflow_loader``, ``code: code``) and calls ``_load_pyfunc(data_path)`` with the model
directory. Predictions are computed by the model's own JavaScript bundle, ``code/serve-stdio.mjs``,
run as one long-lived ``node`` child process that speaks line-delimited JSON on stdin/stdout:

    request : {"id": <n>, "records": [{...}, ...], "params": {...} | null}
    response: {"id": <n>, "predictions": ...}
              {"id": <n>, "error": {"type": "...", "message": "..."}}

A model is code. Before node starts, the model folder is verified against the hash manifest written
at packaging (``flavors.temporal_mlflow.integrity_manifest`` in MLmodel): every path stays inside the
folder, every listed file has its recorded SHA-256, no file was added to ``code/``, ``artifacts/`` or
``environment/``; with ``$TEMPORAL_MLFLOW_SIGNING_KEY`` set, the manifest must carry a matching
HMAC-SHA-256 signature. The node side (the verified bundle) then checks MLmodel's own digest.
A refused model raises ``ModelIntegrityError`` (or its subclasses ``UnsafeModelPathError``,
``ModelSignatureError``) naming the file. This loader is itself part of the model: see docs/trust.md.

The node binary is ``$TEMPORAL_MLFLOW_NODE`` or ``node`` on PATH. Calls are serialised with a lock
(MLflow's scoring server predicts from threads); the child is restarted if it died and terminated at
interpreter exit. Its stderr goes to this process's stderr.
"""

import atexit
import base64
import datetime
import hashlib
import hmac
import json
import math
import os
import shutil
import subprocess
import sys
import threading

NODE_ENV_VAR = "TEMPORAL_MLFLOW_NODE"
STDIO_SCRIPT = os.path.join("code", "serve-stdio.mjs")
# Kept equal to src/model/integrity.ts.
SIGNING_KEY_ENV_VAR = "TEMPORAL_MLFLOW_SIGNING_KEY"
MIN_SIGNING_KEY_LENGTH = 32
INTEGRITY_FORMAT = "temporal-mlflow-integrity/1"
SEALED_FOLDERS = ("code/", "artifacts/", "environment/")
IGNORED_FOLDERS = ("__pycache__",)
CATALOG_PATH_KEYS = ("filepath", "path")

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


class ModelIntegrityError(Exception):
    """The model folder failed its integrity check before any of its code ran; names the file."""

    def __init__(self, model_dir, file, reason):
        self.model_dir = model_dir
        self.file = file
        super().__init__(
            f"Refusing to load the model in {model_dir}: {file} {reason} "
            "(a model is code: load only models from stores you trust; see docs/trust.md)"
        )


class UnsafeModelPathError(ModelIntegrityError):
    """A path in MLmodel or in the manifest leaves the model folder; the outside file is never read."""

    def __init__(self, model_dir, file, key, path, reason):
        self.key = key
        self.path = path
        super().__init__(model_dir, file, f"names a path outside the model folder at {key}: {path!r} ({reason})")


class ModelSignatureError(ModelIntegrityError):
    """A signing key is configured and the manifest is unsigned or signed with another key."""


def _contained(model_dir, key, value, file="MLmodel"):
    """The absolute path of ``value`` inside ``model_dir``; refuses paths that leave it (never reads them)."""
    if not isinstance(value, str) or not value or "\0" in value:
        raise UnsafeModelPathError(model_dir, file, key, value, "expected a non-empty relative path")
    normal = value.replace("\\", "/")
    if normal.startswith("/") or (len(normal) > 1 and normal[1] == ":") or "://" in normal:
        raise UnsafeModelPathError(model_dir, file, key, value, "an absolute path or URL leaves the model folder")
    normal = os.path.normpath(normal)
    if normal == ".." or normal.startswith(".." + os.sep):
        raise UnsafeModelPathError(model_dir, file, key, value, "'..' leads out of the model folder")
    target = os.path.join(model_dir, normal)
    root = os.path.realpath(model_dir)
    real = os.path.realpath(target)
    if os.path.lexists(target) and os.path.commonpath([root, real]) != root:
        raise UnsafeModelPathError(model_dir, file, key, value, "a symbolic link leads out of the model folder")
    return target


def _mlmodel_paths(mlmodel):
    flavors = mlmodel.get("flavors") or {}
    ours = flavors.get("temporal_mlflow") or {}
    paths = [
        (f"flavors.temporal_mlflow.{name}", ours[name])
        for name in ("bundle", "environment", "integrity_manifest", "integrity_signature")
        if name in ours
    ]

    def visit(value, key):
        if isinstance(value, dict):
            for name, item in value.items():
                if name in CATALOG_PATH_KEYS and not isinstance(item, (dict, list)):
                    paths.append((f"{key}.{name}", item))
                else:
                    visit(item, f"{key}.{name}")

    visit(ours.get("catalog"), "flavors.temporal_mlflow.catalog")
    return paths


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _signing_key():
    key = os.environ.get(SIGNING_KEY_ENV_VAR) or None
    if key is not None and len(key) < MIN_SIGNING_KEY_LENGTH:
        raise ModelSignatureError(
            "(any model)",
            SIGNING_KEY_ENV_VAR,
            f"is too short: expected at least {MIN_SIGNING_KEY_LENGTH} characters (openssl rand -hex 32)",
        )
    return key


def verify_model(model_dir):
    """Checks paths, the manifest's signature (when a key is set) and every file's hash; raises otherwise."""
    import yaml  # MLflow depends on PyYAML

    key = _signing_key()
    try:
        with open(os.path.join(model_dir, "MLmodel"), encoding="utf-8") as handle:
            mlmodel = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError):
        raise ModelIntegrityError(model_dir, "MLmodel", "cannot be read as YAML") from None
    if not isinstance(mlmodel, dict):
        raise ModelIntegrityError(model_dir, "MLmodel", "is not a YAML mapping")
    for key_name, value in _mlmodel_paths(mlmodel):
        _contained(model_dir, key_name, value)
    flavor = (mlmodel.get("flavors") or {}).get("temporal_mlflow") or {}
    manifest_name = flavor.get("integrity_manifest")
    if manifest_name is None:
        raise ModelIntegrityError(
            model_dir,
            "MLmodel",
            "names no hash manifest (flavors.temporal_mlflow.integrity_manifest): the model was packaged "
            "before integrity checks, or the manifest was removed",
        )
    manifest_file = os.path.normpath(manifest_name)
    try:
        with open(_contained(model_dir, "flavors.temporal_mlflow.integrity_manifest", manifest_name), "rb") as handle:
            raw = handle.read()
    except OSError:
        raise ModelIntegrityError(model_dir, manifest_file, "is missing: it is named by MLmodel") from None

    if key is not None:
        signature_name = flavor.get("integrity_signature")
        if signature_name is None:
            raise ModelSignatureError(
                model_dir, manifest_file, f"is not signed, and {SIGNING_KEY_ENV_VAR} is set: only signed models are loaded"
            )
        signature_file = os.path.normpath(signature_name)
        try:
            with open(_contained(model_dir, "flavors.temporal_mlflow.integrity_signature", signature_name), "rb") as handle:
                recorded = json.loads(handle.read())
            signature = recorded["signature"] if recorded.get("algorithm") == "hmac-sha256" else None
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            signature = None
        if not isinstance(signature, str):
            raise ModelSignatureError(model_dir, signature_file, "is missing or malformed")
        expected = hmac.new(key.encode("utf-8"), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise ModelSignatureError(
                model_dir,
                signature_file,
                f"does not match {SIGNING_KEY_ENV_VAR}: the model was signed with another key, or its manifest was changed",
            )

    try:
        manifest = json.loads(raw)
    except ValueError:
        raise ModelIntegrityError(model_dir, manifest_file, "is not valid JSON") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if manifest.get("format") != INTEGRITY_FORMAT or manifest.get("algorithm") != "sha256" or not isinstance(files, dict):
        raise ModelIntegrityError(model_dir, manifest_file, f"is not a {INTEGRITY_FORMAT} manifest")

    own = {"MLmodel", manifest_file, os.path.normpath(flavor.get("integrity_signature") or "integrity.sig")}
    present = set()
    for folder, dirs, names in os.walk(model_dir):
        dirs[:] = [d for d in dirs if d not in IGNORED_FOLDERS]
        for name in names + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            path = os.path.relpath(os.path.join(folder, name), model_dir).replace(os.sep, "/")
            if os.path.islink(os.path.join(folder, name)):
                if path in files or path.startswith(SEALED_FOLDERS):
                    raise ModelIntegrityError(model_dir, path, "is a symbolic link: a model holds files only")
                continue
            if path not in own:
                present.add(path)
    for path in sorted(present):
        if path.startswith(SEALED_FOLDERS) and path not in files:
            raise ModelIntegrityError(model_dir, path, f"is not listed in {manifest_file}: it was added after packaging")
    for path in sorted(files):
        _contained(model_dir, f"files.{path}", path, manifest_file)
        if path not in present:
            raise ModelIntegrityError(model_dir, path, f"is missing: {manifest_file} lists it")
        if _sha256(os.path.join(model_dir, path)) != files[path]:
            raise ModelIntegrityError(
                model_dir, path, f"does not match its SHA-256 in {manifest_file}: it was changed after packaging"
            )
    if STDIO_SCRIPT.replace(os.sep, "/") not in files:
        raise ModelIntegrityError(model_dir, STDIO_SCRIPT, f"is not listed in {manifest_file}")
    return manifest


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
        verify_model(model_dir)  # before node runs any of the model's code
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
