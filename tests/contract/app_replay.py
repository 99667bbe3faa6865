"""The Pocket AI app's model-running path, replayed (issue #31; docs/CLIENTS.md §8).

A faithful executor of what the app at `ahstewart/jacana-flutter@f7ae2c9` computes for an image model:
the screen decodes a photo, `InferenceService` runs the spec's preprocessing block, the LiteRT interpreter
runs the model (the same interpreter the app links, here `ai_edge_litert`), the postprocessing block and
the screen read the outputs. Each step cites the Dart file and line it transcribes (`inferenceService.dart`
is lib/core/services/inferenceService.dart; lines at f7ae2c9), quirks included: a step the app gets wrong
is replayed wrong, and where the app throws, the replay raises `AppFailure` with the app's own words.

Next to it, `reference()` runs the same file with the preprocessing its own TFLite Model Metadata
declares ((px - mean[c]) / std[c]), read from the file by a reader of its own (not the catalog's), on
the same resized pixels; `compare()` says whether the app's answer is the model's: classification top-1
equal, segmentation foreground IoU >= 0.9.

Usage:
  app_replay.py photo                                  prints the pinned test photo's path (hash-checked)
  app_replay.py compare MODEL SPEC.json [LABELS.txt]   prints the comparison as JSON
The tests of this file are in test_app_replay.py.
"""
import hashlib
import importlib.util
import json
import math
import os
import struct
import sys
import zipfile

import numpy as np

APP = "ahstewart/jacana-flutter@f7ae2c9"

# scikit-image 0.25.2 ships the astronaut photo (NASA, public domain); installed without its
# dependencies into the test venv and only located, never imported.
PHOTO_SHA256 = "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"


class AppFailure(Exception):
    """Where the app throws (or shows its error screen): the message is the app's."""


def photo_path():
    package = importlib.util.find_spec("skimage").submodule_search_locations[0]
    path = os.path.join(package, "data", "astronaut.png")
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != PHOTO_SHA256:
        raise SystemExit(f"{path}: sha256 {digest}, pinned {PHOTO_SHA256}")
    return path


# ---- The image package (pub `image` 4.8.0, the version pubspec.lock pins) ----------------------------

class DartImage:
    """An `img.Image` as `img.decodeImage` gives it for an 8-bit RGB photo: H x W x 3 uint8."""

    def __init__(self, pixels):
        self.pixels = pixels

    @property
    def height(self):
        return self.pixels.shape[0]

    @property
    def width(self):
        return self.pixels.shape[1]


def decode_image(path):
    """`img.decodeImage(bytes)` (image_classification.dart:76, semantic_segmentation.dart:78)."""
    from PIL import Image
    with Image.open(path) as im:
        if im.mode != "RGB":
            raise ValueError(f"the replay decodes 8-bit RGB photos only, not {im.mode}")
        return DartImage(np.asarray(im, dtype=np.uint8).copy())


def copy_resize(image, width, height):
    """`img.copyResize(src, width:, height:)` with its default `Interpolation.nearest` (image 4.8.0,
    lib/src/transform/copy_resize.dart): the same size is a clone; otherwise source column
    `(x * src.width) ~/ width` and row `(y * src.height) ~/ height`."""
    if width == image.width and height == image.height:
        return DartImage(image.pixels.copy())
    xs = (np.arange(width) * image.width) // width
    ys = (np.arange(height) * image.height) // height
    return DartImage(image.pixels[ys][:, xs].copy())


def img_to_bytes(image, color_space="RGB"):
    """`imgToBytes` (data_types.dart:64): `getBytes(order:)`, RGB for an unknown colour space."""
    order = color_space.lower()
    if order == "bgr":
        return image.pixels[:, :, ::-1].reshape(-1).copy()
    if order in ("rgba", "argb"):
        raise NotImplementedError("the replay has no 4-channel orders; the catalog never writes them")
    return image.pixels.reshape(-1).copy()


# ---- Dart values the steps pass along ----------------------------------------------------------------

class Typed:
    """A Dart typed list (`Uint8List`, `Float32List`) or a nested `List` from `.reshape` (tflite_flutter's
    ListShape), as a numpy array with the Dart kind it stands for."""

    def __init__(self, kind, array):
        self.kind, self.array = kind, array


# ---- InferenceService ----------------------------------------------------------------------------------

_DTYPES = {np.float32: "float32", np.uint8: "uint8", np.int8: "int8", np.int32: "int32"}


def _dtype_word(dtype):
    """`_getActualInputDtype` (inferenceService.dart:1655-1667): the four words, anything else float32."""
    return _DTYPES.get(np.dtype(dtype).type, "float32")


class Replay:
    """One `InferenceService` over one model file and one spec, with its downloaded labels."""

    def __init__(self, model_path, spec, labels_text=None):
        from ai_edge_litert.interpreter import Interpreter
        self.spec = spec
        self.interpreter = Interpreter(model_path=model_path)
        self.interpreter.allocate_tensors()
        # `_loadLabels`: lines, each trimmed, empty ones dropped (CLIENTS.md §8 R6).
        self.labels = None
        if labels_text is not None:
            self.labels = [l.strip() for l in labels_text.split("\n") if l.strip()]

    def _input(self, block_index):
        """`_getActualInputShape`/`_getActualInputDtype` read input tensor `block_index`."""
        details = self.interpreter.get_input_details()
        if block_index >= len(details):
            return [], ""
        d = details[block_index]
        return [int(x) for x in d["shape"]], _dtype_word(d["dtype"])

    # -- preprocessing (inferenceService.dart:405-560, steps at :820-1080) --

    def preprocess(self, raw, input_name):
        spec = self.spec
        input_index = next((i for i, t in enumerate(spec["inputs"]) if t["name"] == input_name), None)
        block_index = next(
            (i for i, b in enumerate(spec["preprocessing"]) if b["input_name"] == input_name), None)
        if input_index is None or block_index is None:
            return raw  # :465 "does not match input or preprocessing block": raw input unchanged
        block = spec["preprocessing"][block_index]
        if block["expects_type"] != "image":
            raise AppFailure(f"Unsupported 'expects_type' for an image: {block['expects_type']}")
        current = raw
        for step in block["steps"]:  # :545, names matched case-sensitively (R8)
            current = self.step(current, step, block_index)
        return current

    def step(self, data, step, block_index):
        name, params = step["step"], step["params"]
        if name == "resize_image":
            return self.resize_image(data, params, block_index)
        if name == "normalize":
            return self.normalize(data, params, block_index)
        if name == "format":
            return self.format(data, params, block_index)
        return data  # no case in the switch (:825): the data passes unchanged

    def resize_image(self, data, params, block_index):
        """:827-861: params (default 224), overridden by a rank-4 input's positive H and W; an error
        returns the input unchanged."""
        width = int(params.get("width") or 224)
        height = int(params.get("height") or 224)
        shape, _ = self._input(block_index)
        if len(shape) == 4 and shape[1] > 0 and shape[2] > 0:
            height, width = shape[1], shape[2]
        if not isinstance(data, DartImage):
            return data
        return copy_resize(data, width, height)

    def normalize(self, data, params, block_index):
        """:864-962."""
        method = params.get("method")
        color_space = params.get("color_space") or "RGB"
        _, dtype = self._input(block_index)
        if dtype in ("uint8", "int8"):  # :872 quantized inputs: bytes only
            if isinstance(data, DartImage):
                return Typed("Uint8List", img_to_bytes(data, color_space))
            return data
        if isinstance(data, DartImage):  # :890 the image becomes its bytes
            data = Typed("Uint8List", img_to_bytes(data, color_space))
        values = data.array
        out = np.zeros(values.size, dtype=np.float32)  # :907 Float32List(inputData.length)
        try:
            if method == "mean_stddev":
                mean = params.get("mean") or [0.456] * len(color_space)
                stddev = params.get("stddev") or [0.224] * len(color_space)
                return Typed("Float32List", mean_stddev_loop(values, mean, stddev, out))
            if method == "normalize_uniform":
                # `step.params['mean'] ?? 127.5`: absent or null is the default.
                mean = params.get("mean")
                mean = 127.5 if mean is None else mean
                stddev = params.get("stddev")
                stddev = 127.5 if stddev is None else stddev
                if not all(isinstance(v, (int, float)) for v in (mean, stddev)):
                    raise TypeError("a list is not a num")  # `inputData[i] - mean` throws
                out[:] = (values.astype(np.float64) - mean) / stddev  # :931
                return Typed("Float32List", out)
            if method == "scale_div":
                value = params.get("value")
                value = 255.0 if value is None else value
                out[:] = values.astype(np.float64) / value  # :941
                return Typed("Float32List", out)
        except (TypeError, IndexError, ZeroDivisionError):
            return data  # :955 "Returning input unchanged" (the bytes)
        return data  # :951 an unknown method: the bytes unchanged (R2)

    def format(self, data, params, block_index):
        """:964-1080."""
        target = params.get("target_dtype")
        color_space = params.get("color_space")
        layout = params.get("data_layout")
        if color_space is None or layout is None or target is None:
            # `step.params['data_layout'].toLowerCase()` on null; `String` from null.
            raise AppFailure("Null check: format needs target_dtype, color_space and data_layout")
        layout = layout.lower()
        shape, actual = self._input(block_index)
        if actual and actual != target:  # :972 the real input dtype wins
            target = actual
        final = data
        if target == "float32" and not (isinstance(data, Typed) and data.kind == "Float32List"):
            if not isinstance(data, DartImage):
                raise AppFailure("Cannot format unsupported type to float32")
            final = Typed("Float32List", (img_to_bytes(data, color_space) / 255.0).astype(np.float32))
        elif target == "uint8" and not (isinstance(data, Typed) and data.kind == "Uint8List"):
            if not isinstance(data, DartImage):
                raise AppFailure("Cannot format unsupported type to uint8")
            final = Typed("Uint8List", img_to_bytes(data, color_space))
        if isinstance(final, DartImage):  # int8/int32: `finalData.shape` on an Image (R4)
            raise AppFailure(f"NoSuchMethodError: Class 'Image' has no instance getter 'shape' ({target})")
        if isinstance(data, DartImage):  # :1003 spatial shape, NCHW reorder only of the image itself
            h, w, c = data.height, data.width, 3
            if layout == "nchw":
                final = Typed(final.kind, final.array.reshape(h, w, c).transpose(2, 0, 1).reshape(-1))
                own = [1, c, h, w]
            else:
                own = [1, h, w, c]
        elif final.kind in ("Float32List", "Uint8List"):
            own = [1, final.array.size]
        else:
            own = list(final.array.shape)
        target_len = int(np.prod(shape)) if shape else 0
        reshape = shape if shape and final.array.size == target_len else own
        if int(np.prod(reshape)) != final.array.size:
            return final  # :1074 a failed reshape returns the flat data
        return Typed("List", final.array.reshape(reshape))

    # -- inference (inferenceService.dart:1327-1470) --

    def infer(self, inputs):
        """`_doInference`: `inputs` maps input names to raw values, as the screen builds it."""
        spec = self.spec
        if len(inputs) != len(spec["inputs"]):
            raise AppFailure("Provided number of inputs and expected number of inputs do not match")
        processed = []
        for name, value in inputs.items():
            # :1345 only preprocessing[0] is looked at (R3): the loop breaks after its first block.
            blocks = spec["preprocessing"]
            if blocks and blocks[0]["input_name"] == name:
                value = self.preprocess(value, name)
            processed.append(value)
        details = self.interpreter.get_input_details()
        if len(processed) != len(details):
            raise AppFailure("Invalid number of inputs for the interpreter")
        for i, value in enumerate(processed):
            if not isinstance(value, Typed):
                raise AppFailure(f"Bad state: an input of type {type(value).__name__} cannot be fed")
            shape = list(value.array.shape) if value.kind == "List" else [value.array.size]
            # :1385 resizeInputTensor to the data's shape, then allocateTensors.
            try:
                self.interpreter.resize_tensor_input(details[i]["index"], shape)
                self.interpreter.allocate_tensors()
            except Exception as e:  # noqa: BLE001 - the interpreter's own failure
                raise AppFailure(f"allocateTensors failed: {e}") from e
        details = self.interpreter.get_input_details()
        for d, value in zip(details, processed):
            array = value.array.reshape(d["shape"])
            if value.kind != "List" or array.dtype != d["dtype"]:
                # tflite_flutter writes the Dart values as the tensor's type.
                if np.issubdtype(d["dtype"], np.integer) and np.issubdtype(array.dtype, np.floating):
                    raise AppFailure("type 'double' is not a subtype of type 'int'")
            self.interpreter.set_tensor(d["index"], array.astype(d["dtype"]))
        outputs = spec["outputs"]
        actual = self.interpreter.get_output_details()
        if len(actual) <= len(outputs):
            for o in outputs:  # :1686 buffers from the spec's dtype words (R5)
                if o["dtype"].lower() not in ("float32", "uint8", "int8", "int32"):
                    raise AppFailure(f"Unsupported output dtype: {o['dtype']}")
        self.interpreter.invoke()
        results = {}
        for i, o in enumerate(outputs):
            if i >= len(actual):
                break
            value = self.interpreter.get_tensor(actual[i]["index"])
            # Values come back in the tensor's own type: doubles for floats, ints for integers.
            results[o["name"]] = value.astype(np.float64 if value.dtype.kind == "f" else np.int64)
        return results

    # -- postprocessing (inferenceService.dart:568-640, steps at :1720-2200) --

    def postprocess(self, raw, block):
        current = raw.get(block["source_tensors"][0])
        for tensor in block["source_tensors"]:
            if tensor not in raw:
                return ("raw", current)  # :612 a missing source tensor: the raw output unchanged
        for step in block["steps"]:
            current = self.post_step(current, raw, step)
        kind = block["interpretation"].lower()
        if kind in ("classification_logits", "classification_scores", "classification_probabilities"):
            return ("classification", current)  # :653
        if kind == "detection_boxes_scores_classes":
            return ("error", "test")  # :671 `return ErrorResult("test")` (R9)
        if kind == "segmentation_mask":
            if isinstance(current, dict) and "mask" in current:
                return ("segmentation", current)  # :719
            return ("error", "segmentation did not produce an img.Image")
        return ("generic", current)

    def post_step(self, data, raw, step):
        name, params = step["step"].lower(), step["params"]  # :1726 case-insensitive (R8)
        if name == "apply_activation":
            if not isinstance(data, (list, np.ndarray)):
                raise AppFailure("Processed output is not a List, cannot apply activation function.")
            if params.get("function") == "softmax":
                return apply_softmax(data)
            return data  # sigmoid and relu are commented out: data unchanged
        if name == "map_labels":
            return self.map_labels(data, params)
        if name == "decode_segmentation_mask":
            return decode_segmentation_mask(data, params)
        return data  # unknown or unreplayed steps pass their data along

    def map_labels(self, data, params):
        """:1759-1845, the classification branch: `labels[i]` for every score (a short file throws)."""
        if self.labels is None:
            return data  # :1761 labels not loaded: unchanged
        if isinstance(data, dict):
            raise NotImplementedError("detection labels are not replayed (R9: no boxes are shown)")
        values = _flat(data)
        out = []
        for i, v in enumerate(values):
            if i >= len(self.labels):
                raise AppFailure(f"RangeError (index): Invalid value: Not in inclusive range 0..{len(self.labels) - 1}: {i}")
            out.append({"index": i, "label": self.labels[i], "confidence": v})
        return out


def mean_stddev_loop(values, mean, stddev, out):
    """`normalize` `mean_stddev` (inferenceService.dart:917-923) exactly as Dart runs it (R1):

        for (var i = 0; i < inputData.length; i += 3) {
          normBytes[i] = ((inputData[i] / 255) - mean[0]) / stddev[0];
          normBytes[i++] = ((inputData[i++] / 255) - mean[1]) / stddev[1];
          normBytes[i++] = ((inputData[i++] / 255) - mean[2]) / stddev[2];
        }

    Dart evaluates an assignment's index before its right-hand side, so `normBytes[i++] = f(inputData[i++])`
    writes at i and reads at i + 1. A read or write past the end throws a RangeError (IndexError here)."""
    n = len(values)

    def read(k):
        if k >= n:
            raise IndexError(k)
        return values[k]

    def write(k, v):
        if k >= n:
            raise IndexError(k)
        out[k] = v

    i = 0
    while i < n:
        write(i, ((read(i) / 255) - mean[0]) / stddev[0])
        w = i
        i += 1
        r = i
        i += 1
        write(w, ((read(r) / 255) - mean[1]) / stddev[1])
        w = i
        i += 1
        r = i
        i += 1
        write(w, ((read(r) / 255) - mean[2]) / stddev[2])
        i += 3
    return out


def _flat(data):
    """`isNestedList` then `expand`: one level of nesting flattened (math.dart, map_labels)."""
    array = np.asarray(data) if not isinstance(data, list) else None
    if array is not None:
        if array.ndim > 1:
            array = array.reshape(array.shape[0] * array.shape[1], *array.shape[2:])
        return [v.item() if hasattr(v, "item") else v for v in array]
    if data and isinstance(data[0], list):
        return [v for row in data for v in row]
    return data


def apply_softmax(data):
    """`applySoftmax` (lib/core/utils/math.dart:6-25): `double maxInput = ...reduce(...)` fails on ints."""
    values = _flat(data)
    if any(isinstance(v, int) for v in values):
        raise AppFailure("type 'int' is not a subtype of type 'double'")
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def decode_segmentation_mask(data, params):
    """:2105-2140: per pixel the first maximum over the channels ([1,H,W,C]), or the value itself as
    the class ([1,H,W]); the class picks a palette colour of `num_classes` (clamped). The replay keeps
    the class indices behind the colours."""
    classes = int(params["num_classes"])
    tensor = np.asarray(data)
    batch0 = tensor[0]
    if batch0.ndim == 3:
        best = np.argmax(batch0, axis=-1)  # numpy's argmax is also the first maximum
    else:
        best = batch0.astype(np.int64)
    palette = max(classes, 1)
    return {"mask": np.clip(best, 0, palette - 1), "num_classes": classes}


# ---- The screens ----------------------------------------------------------------------------------------

def run_app(model_path, spec, photo, labels_text=None):
    """The screen `metadata[0].model_task` opens, fed the photo; its result as the user sees it."""
    task = spec["metadata"][0]["model_task"].replace("-", "_")
    replay = Replay(model_path, spec, labels_text)
    image = decode_image(photo)
    try:
        if task == "image_classification":
            return classification_screen(replay, image)
        if task in ("semantic_segmentation", "image_segmentation", "segmentation"):
            return segmentation_screen(replay, image)
    except AppFailure as e:
        return {"error": str(e)}
    return {"error": f"Task type {task} is not replayed"}


def _results(replay, inputs):
    raw = replay.infer(inputs)
    blocks = replay.spec["postprocessing"]
    if not blocks:
        return [("raw", v) for v in raw.values()]
    return [replay.postprocess(raw, block) for block in blocks]


def classification_screen(replay, image):
    """image_classification.dart:88-125: every input gets the photo; the first result must be a
    ClassificationResult; recognitions sorted by `confidence as double`, the first `top_k` (3) shown."""
    inputs = {t["name"]: image for t in replay.spec["inputs"]}
    results = _results(replay, inputs)
    kind, value = results[0] if results else ("error", "no result")
    if kind != "classification" or not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        return {"error": "Error running model"}
    recognitions = [r for r in value if r["confidence"] is not None]
    if any(not isinstance(r["confidence"], float) for r in recognitions):
        return {"error": "Error: type 'int' is not a subtype of type 'double' in type cast"}
    shown = 3
    for block in replay.spec["postprocessing"]:
        for step in block["steps"]:
            if step["step"] == "map_labels" and step["params"].get("top_k") is not None:
                if not isinstance(step["params"]["top_k"], int):
                    return {"error": "Error: top_k is not an int"}
                shown = step["params"]["top_k"]
    ranked = sorted(recognitions, key=lambda r: -r["confidence"])
    return {"top": [{"label": r["label"], "confidence": r["confidence"]} for r in ranked[:shown]]}


def segmentation_screen(replay, image):
    """semantic_segmentation.dart:96-112: the first input gets the photo; the first result must be
    a SegmentationResult."""
    results = _results(replay, {replay.spec["inputs"][0]["name"]: image})
    kind, value = results[0] if results else ("error", "no result")
    if kind != "segmentation":
        return {"error": f"Unexpected result type: {kind}"}
    return {"mask": value["mask"]}


# ---- The model's own declared preprocessing -------------------------------------------------------------

class _Table:
    """A FlatBuffers table read by vtable slot (flatbuffers' wire format, little-endian)."""

    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vlen = struct.unpack_from("<H", buf, self.vtable)[0]

    def _field(self, slot):
        off = 4 + 2 * slot
        if off >= self.vlen:
            return None
        rel = struct.unpack_from("<H", self.buf, self.vtable + off)[0]
        return self.pos + rel if rel else None

    def scalar(self, slot, fmt, default=0):
        at = self._field(slot)
        return default if at is None else struct.unpack_from(fmt, self.buf, at)[0]

    def _indirect(self, at):
        return at + struct.unpack_from("<I", self.buf, at)[0]

    def string(self, slot):
        at = self._field(slot)
        if at is None:
            return None
        at = self._indirect(at)
        n = struct.unpack_from("<I", self.buf, at)[0]
        return self.buf[at + 4:at + 4 + n].decode()

    def table(self, slot):
        at = self._field(slot)
        return None if at is None else _Table(self.buf, self._indirect(at))

    def vector(self, slot):
        at = self._field(slot)
        if at is None:
            return None, 0
        at = self._indirect(at)
        return at + 4, struct.unpack_from("<I", self.buf, at)[0]

    def tables(self, slot):
        start, n = self.vector(slot)
        return [_Table(self.buf, self._indirect(start + 4 * k)) for k in range(n)]

    def floats(self, slot):
        start, n = self.vector(slot)
        return list(struct.unpack_from(f"<{n}f", self.buf, start)) if n else []


def declared_normalization(model_path):
    """The mean and std the file's TFLite Model Metadata declares for input 0, or None. Slots follow
    schemas/tflite/schema.fbs (Model: buffers 4, metadata 6; Metadata: name 0, buffer 1; Buffer: data 0)
    and metadata_schema.fbs (ModelMetadata: subgraph_metadata 3; SubGraphMetadata:
    input_tensor_metadata 2; TensorMetadata: process_units 4; ProcessUnit: options_type 0, options 1,
    NormalizationOptions = 1; NormalizationOptions: mean 0, std 1)."""
    with open(model_path, "rb") as f:
        buf = f.read()
    model = _Table(buf, struct.unpack_from("<I", buf, 0)[0])
    buffers = model.tables(4)
    for entry in model.tables(6):
        if entry.string(0) != "TFLITE_METADATA":
            continue
        start, n = buffers[entry.scalar(1, "<I")].vector(0)
        meta_buf = buf[start:start + n]
        meta = _Table(meta_buf, struct.unpack_from("<I", meta_buf, 0)[0])
        for sub in meta.tables(3)[:1]:
            for tensor in sub.tables(2)[:1]:
                for unit in tensor.tables(4):
                    if unit.scalar(0, "<B") == 1:
                        options = unit.table(1)
                        return options.floats(0), options.floats(1)
    return None


def packed_labels(model_path):
    """The label file packed after the model (the metadata populator's ZIP), as text, or None."""
    try:
        with zipfile.ZipFile(model_path) as z:
            names = [n for n in z.namelist() if n.endswith(".txt")]
            return z.read(names[0]).decode() if names else None
    except zipfile.BadZipFile:
        return None


def reference(model_path, spec, photo):
    """The model run on the same resized pixels with the preprocessing its metadata declares: for a
    float input (px - mean[c]) / std[c], for an integer input the pixels themselves. Returns the raw
    first output, or None when a float model declares nothing to compare with."""
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=model_path)
    interpreter.allocate_tensors()
    d = interpreter.get_input_details()[0]
    _, h, w, _ = [int(x) for x in d["shape"]]
    pixels = copy_resize(decode_image(photo), w, h).pixels.astype(np.float64)
    if np.issubdtype(d["dtype"], np.floating):
        declared = declared_normalization(model_path)
        if declared is None:
            return None
        mean, std = (np.resize(np.array(v, dtype=np.float64), 3) for v in declared)
        pixels = (pixels - mean) / std
    interpreter.set_tensor(d["index"], pixels.reshape(d["shape"]).astype(d["dtype"]))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def foreground(mask_or_scores):
    """Pixels whose class is not 0 (the background), from class ids or per-class scores."""
    a = np.asarray(mask_or_scores)
    if a.ndim == 4:
        a = a[0]
    if a.ndim == 3:
        a = np.argmax(a, axis=-1) if a.shape[-1] > 1 else (a[..., 0] > 0.5).astype(np.int64)
    return a != 0


def compare(model_path, spec, photo, labels_text=None):
    if labels_text is None:
        labels_text = packed_labels(model_path)
    app = run_app(model_path, spec, photo, labels_text)
    ref = reference(model_path, spec, photo)
    task = spec["metadata"][0]["model_task"].replace("-", "_")
    out = {"task": task, "app_profile": APP, "app": None, "reference": None, "agree": False}
    if "error" in app:
        out["app"] = app
        return out
    if ref is None:
        out["reference"] = "the file declares no normalization"
        return out
    if task == "image_classification":
        labels = [l.strip() for l in labels_text.split("\n") if l.strip()]
        best = int(np.argmax(ref.reshape(-1)))
        out["app"] = app["top"][0]
        out["reference"] = {"label": labels[best], "score": float(ref.reshape(-1)[best])}
        out["agree"] = app["top"][0]["label"] == labels[best]
    else:
        mine, theirs = foreground(app["mask"]), foreground(ref)
        union = np.logical_or(mine, theirs).sum()
        iou = float(np.logical_and(mine, theirs).sum() / union) if union else 1.0
        out["app"] = {"foreground": float(mine.mean())}
        out["reference"] = {"foreground": float(theirs.mean())}
        out["iou"] = iou
        out["agree"] = iou >= 0.9
    return out


def main(args):
    if args == ["photo"]:
        print(photo_path())
        return
    if args and args[0] == "compare" and len(args) in (3, 4):
        with open(args[2]) as f:
            spec = json.load(f)
        labels = None
        if len(args) == 4:
            with open(args[3], encoding="utf-8") as f:
                labels = f.read()
        print(json.dumps(compare(args[1], spec, photo_path(), labels)))
        return
    raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
