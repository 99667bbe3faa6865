"""The app replay's own tests (issue #31): each transcribed step on a case computed by hand.

Run by the integration suite (tests/it/replay.rs) with the contract venv's Python:
    python -m unittest tests/contract/test_app_replay.py
"""
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import app_replay as app  # noqa: E402


def replay_over(shape, dtype):
    """A Replay whose model input is `shape` of `dtype`, without a model file (the steps only ask
    the interpreter for the input's shape and type)."""
    r = app.Replay.__new__(app.Replay)
    r.spec, r.labels = {}, None
    r._input = lambda _block: (shape, dtype)
    return r


class MeanStddevLoop(unittest.TestCase):
    def test_seven_pixels_of_three_channels_get_two_of_every_seven_values_from_shifted_channels(self):
        # 7 pixels x 3 channels, value k at index k; mean 0 and stddev 1 leave k / 255.
        values = np.arange(21, dtype=np.uint8)
        out = app.mean_stddev_loop(values, [0, 0, 0], [1, 1, 1], np.zeros(21, dtype=np.float32))
        # By hand: each iteration starting at k writes out[k] = in[k+1] (the first write is overwritten)
        # and out[k+2] = in[k+3]; then i = k + 4 and the loop's i += 3 starts the next at k + 7.
        expected = np.zeros(21, dtype=np.float32)
        for k in (0, 7, 14):
            expected[k] = (k + 1) / 255
            expected[k + 2] = (k + 3) / 255
        np.testing.assert_array_equal(out, expected)
        self.assertEqual(int(np.count_nonzero(out)), 6)

    def test_the_channels_means_and_stddevs_go_to_the_wrong_values(self):
        values = np.full(21, 255, dtype=np.uint8)
        out = app.mean_stddev_loop(values, [0.5, 0.25, 0.0], [0.5, 0.25, 0.5], np.zeros(21, dtype=np.float32))
        # out[0] holds channel 1's formula ((1 - 0.25) / 0.25 = 3), out[2] channel 2's ((1 - 0) / 0.5).
        self.assertEqual(list(out[:3]), [3.0, 0.0, 2.0])

    def test_a_length_that_runs_past_the_end_throws_and_normalize_returns_the_bytes(self):
        # 8 pixels: 24 values; the iteration at 21 reads index 22 then 24 — past the end.
        with self.assertRaises(IndexError):
            app.mean_stddev_loop(np.zeros(24, dtype=np.uint8), [0] * 3, [1] * 3, np.zeros(24, dtype=np.float32))
        r = replay_over([1, 2, 4, 3], "float32")
        image = app.DartImage(np.zeros((2, 4, 3), dtype=np.uint8))
        out = r.normalize(image, {"method": "mean_stddev", "mean": [0] * 3, "stddev": [1] * 3}, 0)
        self.assertEqual(out.kind, "Uint8List")
        # ... which a float32 format then cannot take: the app fails.
        with self.assertRaises(app.AppFailure):
            r.format(out, {"target_dtype": "float32", "color_space": "RGB", "data_layout": "NHWC"}, 0)


class ImageSteps(unittest.TestCase):
    def test_copy_resize_takes_the_nearest_pixel_by_integer_division(self):
        pixels = np.arange(4 * 3 * 3, dtype=np.uint8).reshape(4, 3, 3)
        out = app.copy_resize(app.DartImage(pixels), 2, 2)
        # columns (0*3)//2 = 0 and (1*3)//2 = 1; rows (0*4)//2 = 0 and (1*4)//2 = 2.
        np.testing.assert_array_equal(out.pixels, pixels[[0, 2]][:, [0, 1]])
        same = app.copy_resize(app.DartImage(pixels), 3, 4)
        np.testing.assert_array_equal(same.pixels, pixels)

    def test_normalize_uniform_and_scale_div_compute_what_they_say(self):
        r = replay_over([1, 1, 2, 3], "float32")
        image = app.DartImage(np.array([[[0, 127, 255], [51, 102, 204]]], dtype=np.uint8))
        out = r.normalize(image, {"method": "normalize_uniform", "mean": 127.5, "stddev": 127.5}, 0)
        np.testing.assert_allclose(out.array, np.float32([-1, -0.003921569, 1, -0.6, -0.2, 0.6]), rtol=1e-6)
        out = r.normalize(image, {"method": "scale_div", "value": 255}, 0)
        np.testing.assert_allclose(out.array, np.float32([0, 127 / 255, 1, 0.2, 0.4, 0.8]), rtol=1e-6)
        # A list mean cannot be subtracted: the bytes come back unchanged.
        out = r.normalize(image, {"method": "normalize_uniform", "mean": [127.5], "stddev": 127.5}, 0)
        self.assertEqual(out.kind, "Uint8List")
        # An unknown method, scale_shift included, leaves the bytes unchanged (R2).
        self.assertEqual(r.normalize(image, {"method": "scale_shift"}, 0).kind, "Uint8List")

    def test_normalize_is_skipped_for_a_quantized_input(self):
        r = replay_over([1, 1, 2, 3], "uint8")
        image = app.DartImage(np.array([[[0, 127, 255], [51, 102, 204]]], dtype=np.uint8))
        out = r.normalize(image, {"method": "normalize_uniform", "mean": 127.5, "stddev": 127.5}, 0)
        self.assertEqual(out.kind, "Uint8List")
        self.assertEqual(list(out.array), [0, 127, 255, 51, 102, 204])

    def test_format_gives_px_over_255_for_float_and_the_bytes_for_uint8_and_fails_for_int8(self):
        image = app.DartImage(np.array([[[0, 51, 255], [255, 0, 0]]], dtype=np.uint8))
        params = {"target_dtype": "uint8", "color_space": "RGB", "data_layout": "NHWC"}
        out = replay_over([1, 1, 2, 3], "float32").format(image, params, 0)
        self.assertEqual(out.kind, "List")
        self.assertEqual(out.array.shape, (1, 1, 2, 3))
        np.testing.assert_allclose(out.array.reshape(-1), np.float32([0, 0.2, 1, 1, 0, 0]))
        out = replay_over([1, 1, 2, 3], "uint8").format(image, params, 0)
        self.assertEqual(list(out.array.reshape(-1)), [0, 51, 255, 255, 0, 0])
        with self.assertRaises(app.AppFailure):
            replay_over([1, 1, 2, 3], "int8").format(image, params, 0)
        # NCHW reorders the image itself...
        nchw = dict(params, data_layout="NCHW")
        out = replay_over([1, 3, 1, 2], "float32").format(image, nchw, 0)
        np.testing.assert_allclose(out.array.reshape(-1), np.float32([0, 1, 0.2, 0, 1, 0]))
        # ... but not data a normalize step already made (it stays NHWC, reshaped to the model's shape).
        r = replay_over([1, 3, 1, 2], "float32")
        normalized = r.normalize(image, {"method": "scale_div", "value": 255}, 0)
        out = r.format(normalized, nchw, 0)
        np.testing.assert_allclose(out.array.reshape(-1), np.float32([0, 0.2, 1, 1, 0, 0]))
        # A format without data_layout fails in the app.
        with self.assertRaises(app.AppFailure):
            replay_over([1, 1, 2, 3], "float32").format(image, {"target_dtype": "float32", "color_space": "RGB"}, 0)


class Outputs(unittest.TestCase):
    def test_softmax_takes_doubles_only(self):
        out = app.apply_softmax(np.array([[0.0, math_log(3.0)]]))
        self.assertAlmostEqual(out[0], 0.25)
        self.assertAlmostEqual(out[1], 0.75)
        with self.assertRaises(app.AppFailure):
            app.apply_softmax(np.array([[1, 2]], dtype=np.int64))

    def test_map_labels_needs_a_label_for_every_score(self):
        r = replay_over([], "float32")
        r.labels = ["a", "b"]
        out = r.map_labels(np.array([[0.1, 0.9]]), {"class_tensor": "s"})
        self.assertEqual([o["label"] for o in out], ["a", "b"])
        with self.assertRaises(app.AppFailure):
            r.map_labels(np.array([[0.1, 0.2, 0.7]]), {"class_tensor": "s"})

    def test_a_one_channel_mask_is_always_class_zero_and_ties_go_to_the_first_channel(self):
        scores = np.array([[[[0.9], [0.1]]]])
        self.assertEqual(app.decode_segmentation_mask(scores, {"num_classes": 2})["mask"].tolist(), [[0, 0]])
        scores = np.array([[[[0.5, 0.5], [0.2, 0.8]]]])
        self.assertEqual(app.decode_segmentation_mask(scores, {"num_classes": 2})["mask"].tolist(), [[0, 1]])

    def test_the_classification_screen_cannot_sort_integer_scores(self):
        r = replay_over([], "uint8")
        r.spec = {"inputs": [{"name": "image"}], "postprocessing": []}
        r.infer = lambda _inputs: {"scores": np.array([[3, 9]], dtype=np.int64)}
        r.labels = ["a", "b"]
        r.spec["postprocessing"] = [{
            "source_tensors": ["scores"], "interpretation": "classification_scores",
            "steps": [{"step": "map_labels", "params": {"class_tensor": "scores", "top_k": 5}}],
        }]
        self.assertIn("not a subtype of type 'double'", app.classification_screen(r, None)["error"])
        r.infer = lambda _inputs: {"scores": np.array([[0.25, 0.75]])}
        self.assertEqual(app.classification_screen(r, None)["top"][0]["label"], "b")


def math_log(x):
    return float(np.log(x))


if __name__ == "__main__":
    unittest.main()
