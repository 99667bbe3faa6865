"""Builds a real .tflite of at least the given size with TensorFlow's own converter (TensorFlow comes
into the contract venv with the LiteRT packages): a dense classifier whose float32 weights make up the
file, for the benchmark of reading a large model by range.

    python large_model.py OUT.tflite MEGABYTES
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402


def main() -> None:
    out, megabytes = sys.argv[1], int(sys.argv[2])
    # One square float32 layer of width w holds 4·w² bytes.
    width = int(((megabytes << 20) / 4) ** 0.5) + 1
    inputs = tf.keras.Input(shape=(width,), batch_size=1, name="features")
    hidden = tf.keras.layers.Dense(width, activation="relu", name="hidden")(inputs)
    scores = tf.keras.layers.Dense(1000, activation="softmax", name="scores")(hidden)
    model = tf.keras.Model(inputs, scores)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with open(out, "wb") as f:
        f.write(converter.convert())


if __name__ == "__main__":
    main()
