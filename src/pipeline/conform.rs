//! A pipeline spec a person writes, checked against the tensors the model file declares (issue #21):
//! the same number of inputs and outputs, and by position the same dtype (in the app's words, as
//! `recipe` maps them) and the same static dimensions — a dimension the file leaves dynamic (-1 in its
//! shape signature) or the spec leaves open (≤ 0) is not compared, as the interpreter resizes it.

use serde_json::Value;

/// `Err` says what differs, naming the spec's field and the model's tensor.
pub fn check(spec: &Value, signature: &Value) -> Result<(), String> {
    for side in ["inputs", "outputs"] {
        let ours = spec[side].as_array().map(Vec::as_slice).unwrap_or_default();
        let file = signature[side]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if ours.len() != file.len() {
            return Err(format!(
                "pipeline_spec.{side} lists {} tensors; the model file has {} ({})",
                ours.len(),
                file.len(),
                names(file)
            ));
        }
        for (i, (s, f)) in ours.iter().zip(file).enumerate() {
            let want = app_dtype(f["dtype"].as_str().unwrap_or_default());
            if s["dtype"].as_str() != Some(want) {
                return Err(format!(
                    "pipeline_spec.{side}[{i}].dtype is {}; the model's {} is {want}",
                    s["dtype"],
                    described(f, side, i)
                ));
            }
            let dims = |v: &Value| -> Vec<i64> {
                v.as_array()
                    .map(|d| d.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default()
            };
            let (spec_shape, shape) = (dims(&s["shape"]), dims(&f["shape"]));
            let dynamic = f
                .get("shape_signature")
                .map(&dims)
                .unwrap_or_else(|| shape.clone());
            let differs = spec_shape.len() != shape.len()
                || spec_shape
                    .iter()
                    .zip(&shape)
                    .zip(dynamic.iter().chain(std::iter::repeat(&0)))
                    .any(|((a, b), d)| *a > 0 && *d != -1 && a != b);
            if differs {
                return Err(format!(
                    "pipeline_spec.{side}[{i}].shape is {spec_shape:?}; the model's {} is {shape:?}",
                    described(f, side, i)
                ));
            }
        }
    }
    Ok(())
}

/// A TFLite dtype in the app's words (its four; anything else is read as `float32`).
pub fn app_dtype(dtype: &str) -> &str {
    match dtype {
        d @ ("float32" | "uint8" | "int8" | "int32") => d,
        _ => "float32",
    }
}

fn described(tensor: &Value, side: &str, i: usize) -> String {
    let kind = if side == "inputs" { "input" } else { "output" };
    format!("{kind} {i} ({})", tensor["name"].as_str().unwrap_or("?"))
}

fn names(tensors: &[Value]) -> String {
    tensors
        .iter()
        .map(|t| t["name"].as_str().unwrap_or("?"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn signature() -> Value {
        json!({"inputs": [{"name": "image", "shape": [1, 224, 224, 3], "shape_signature": [-1, 224, 224, 3], "dtype": "float32"}],
               "outputs": [{"name": "scores", "shape": [1, 1001], "dtype": "float16"}]})
    }

    fn spec(input: Value, output: Value) -> Value {
        json!({"inputs": [input], "outputs": [output]})
    }

    #[test]
    fn a_spec_is_checked_by_position_dtype_and_static_dims() {
        let out = json!({"name": "y", "shape": [1, 1001], "dtype": "float32"});
        let ok = spec(
            json!({"name": "x", "shape": [4, 224, 224, 3], "dtype": "float32"}),
            out.clone(),
        );
        assert_eq!(
            check(&ok, &signature()),
            Ok(()),
            "a dynamic batch and other names are fine"
        );
        let open = spec(
            json!({"name": "x", "shape": [1, -1, -1, 3], "dtype": "float32"}),
            out.clone(),
        );
        assert_eq!(check(&open, &signature()), Ok(()));
        let wrong = spec(
            json!({"name": "x", "shape": [1, 192, 192, 3], "dtype": "float32"}),
            out.clone(),
        );
        assert_eq!(
            check(&wrong, &signature()).unwrap_err(),
            "pipeline_spec.inputs[0].shape is [1, 192, 192, 3]; the model's input 0 (image) is [1, 224, 224, 3]"
        );
        let dtype = spec(
            json!({"name": "x", "shape": [1, 224, 224, 3], "dtype": "uint8"}),
            out,
        );
        assert!(check(&dtype, &signature())
            .unwrap_err()
            .contains("dtype is \"uint8\""));
        let two = json!({"inputs": [], "outputs": []});
        assert!(check(&two, &signature())
            .unwrap_err()
            .starts_with("pipeline_spec.inputs lists 0 tensors; the model file has 1 (image)"));
    }
}
