"""Checks a temporal-mlflow model through MLflow's own python_function loader.

Usage: python check_pyfunc.py <model_dir>
Exits non-zero with a message on the first failed check; prints one JSON line of results on success.
"""

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow.pyfunc  # noqa: E402
import pandas as pd  # noqa: E402


def check(cond, message):
    if not cond:
        print(f"CHECK FAILED: {message}", file=sys.stderr)
        sys.exit(1)


def ys(pred):
    check(isinstance(pred, pd.DataFrame), f"expected a DataFrame, got {type(pred).__name__}")
    check(list(pred.columns) == ["y"], f"expected column y, got {list(pred.columns)}")
    return [float(v) for v in pred["y"]]


def main(model_dir):
    model = mlflow.pyfunc.load_model(model_dir)
    results = {}

    # (a) a DataFrame, with the params schema's defaults and with an override
    df = pd.DataFrame({"x": [1.0, 2.5, -3.0]})
    results["default"] = ys(model.predict(df))
    check(results["default"] == [2.0, 5.0, -6.0], f"default predictions {results['default']}")
    results["offset"] = ys(model.predict(df, params={"offset": 0.5}))
    check(results["offset"] == [2.5, 5.5, -5.5], f"offset predictions {results['offset']}")

    # (b) errors of the JavaScript predict surface as Python exceptions with its message
    try:
        model.predict(df, params={"fail": True})
        check(False, "predict with fail=True did not raise")
    except Exception as e:  # noqa: BLE001
        results["error"] = f"{type(e).__name__}: {e}"
        check("asked to fail" in str(e), f"error message lost: {e}")

    # (c) 8 threads at once, each with its own inputs: answers must not be mixed up
    def one(i):
        frame = pd.DataFrame({"x": [float(i), float(i) + 0.25]})
        return i, ys(model.predict(frame, params={"offset": float(i)}))

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one, range(64)))
    for i, got in answers:
        check(got == [3.0 * i, 3.0 * i + 0.5], f"thread answer {i}: {got}")
    results["threads"] = len(answers)

    # (d) the node child is restarted after it died
    impl = model._model_impl
    impl = getattr(impl, "python_model", impl)
    proc = getattr(impl, "_proc", None)
    check(proc is not None, "no child process found on the model implementation")
    proc.kill()
    proc.wait()
    results["after_restart"] = ys(model.predict(pd.DataFrame({"x": [4.0]})))
    check(results["after_restart"] == [8.0], f"after restart {results['after_restart']}")

    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
