//! What a `.tflite` file declares, read with [`flatbuf`](super::flatbuf) from the parts fetched so far:
//! the schema version and description, the operators (builtin and custom, with their use counts), the
//! main subgraph's inputs and outputs in model order, the signature defs, the metadata entries, the
//! minimum runtime version, the raw `TFLITE_METADATA` buffer (parsed in `metadata.rs`) and what the
//! constant tensors' types say about quantization. Never a weight: buffers are followed only for the
//! metadata entries, whether stored inside the FlatBuffer or past it (offset and size, models > 2 GiB).

use super::flatbuf::{bad, Spans, Table, WalkResult};
use super::generated::schema::tflite as fb;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The FlatBuffers file identifier of a TFLite model.
pub const IDENTIFIER: &[u8; 4] = b"TFL3";

// Caps beyond which a file is treated as corrupt rather than walked (far above real models).
const MAX_SUBGRAPHS: u32 = 10_000;
const MAX_TENSORS: u32 = 1_000_000;
const MAX_OPERATORS: u32 = 1_000_000;
const MAX_OPCODES: u32 = 100_000;
const MAX_BUFFERS: u32 = 10_000_000;
const MAX_ENTRIES: u32 = 10_000;
const MAX_RANK: u32 = 64;
const MAX_NAME: u32 = 1024;
/// The largest `TFLITE_METADATA` buffer read (real ones are a few KiB).
pub const MAX_METADATA_BYTES: u64 = 1 << 20;

/// One tensor as the app and the interpreter see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<i64>,
    /// The shape with unknown dimensions as -1, when the file records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape_signature: Option<Vec<i64>>,
    /// The TFLite type name in lower case (`float32`, `uint8`, `int8`, …).
    pub dtype: String,
    /// Per-tensor quantization (`scale`, `zero_point`); null when the tensor has none or is
    /// quantized per axis.
    pub quantization: Option<Quantization>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantization {
    pub scale: f32,
    pub zero_point: i64,
}

/// An operator the model uses, and how many times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorUse {
    pub name: String,
    pub custom: bool,
    pub count: u32,
}

/// A signature def: its key and its named inputs and outputs (name → tensor index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureInfo {
    pub key: String,
    pub subgraph: u32,
    pub inputs: Vec<(String, u32)>,
    pub outputs: Vec<(String, u32)>,
}

/// Everything read from the model's FlatBuffer (serialised for the readings kept by file hash; the
/// raw metadata buffer is not kept — what it declares is the inspection's `metadata`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub schema_version: u32,
    pub description: Option<String>,
    pub subgraphs: u32,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    pub operators: Vec<OperatorUse>,
    pub signatures: Vec<SignatureInfo>,
    pub metadata_names: Vec<String>,
    pub min_runtime_version: Option<String>,
    /// The raw `TFLITE_METADATA` buffer, when the model has one of readable size.
    #[serde(skip)]
    pub model_metadata: Option<Vec<u8>>,
    /// Types of the constant tensors (those with data), counted.
    pub weight_types: BTreeMap<String, u32>,
    /// Types of the other tensors (inputs, activations), counted.
    pub activation_types: BTreeMap<String, u32>,
    /// Where the FlatBuffer ends, as far as the buffers past it show (models > 2 GiB).
    pub external_data_end: Option<u64>,
    /// Tensors whose type was not read, to keep within the read target: a sparse model stores its
    /// sparsity indices between its tensor tables (the types counted are those read).
    #[serde(default)]
    pub unread_tensors: u32,
}

/// The lower-case type name of a TFLite tensor type.
pub fn dtype_name(code: i8) -> String {
    fb::TensorType(code)
        .variant_name()
        .map_or_else(|| format!("unknown({code})"), str::to_ascii_lowercase)
}

/// Four identifier bytes as a reason shows them: quoted when they are printable ASCII, else in hex
/// (a random or binary file's bytes would print as replacement characters).
fn shown_identifier(ident: &[u8]) -> String {
    if ident.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("{:?}", String::from_utf8_lossy(ident))
    } else {
        let hex: Vec<String> = ident.iter().map(|b| format!("{b:02x}")).collect();
        format!("the bytes {}", hex.join(" "))
    }
}

/// Reads the model from what `s` holds (or says what else it needs).
pub fn walk(s: &Spans) -> WalkResult<ModelInfo> {
    let ident = s.bytes(4, 4)?;
    if ident != IDENTIFIER {
        return bad(format!(
            "not a TFLite model: its FlatBuffers identifier is {}, not \"TFL3\"",
            shown_identifier(ident)
        ));
    }
    let model = s.table_at(0)?;
    let mut info = ModelInfo {
        schema_version: model.u32_or(s, fb::Model::VT_VERSION, 0)?,
        description: model.string(s, fb::Model::VT_DESCRIPTION, MAX_NAME)?,
        ..ModelInfo::default()
    };
    let codes = operator_codes(s, &model)?;
    let subgraphs = model.vector(s, fb::Model::VT_SUBGRAPHS, 4, MAX_SUBGRAPHS)?;
    let Some(subgraphs) = subgraphs.filter(|v| v.len > 0) else {
        return bad("the model has no subgraph");
    };
    info.subgraphs = subgraphs.len;
    let mut uses = vec![0u32; codes.len()];
    let buffers = model.vector(s, fb::Model::VT_BUFFERS, 4, MAX_BUFFERS)?;
    for g in 0..subgraphs.len {
        let sub = subgraphs.table(s, g)?;
        let tensors = sub
            .vector(s, fb::SubGraph::VT_TENSORS, 4, MAX_TENSORS)?
            .ok_or_else(|| super::flatbuf::Walk::Bad(format!("subgraph {g} has no tensors")))?;
        // A constant (a weight) is a tensor some operator reads and nothing produces: told from the
        // graph, so that no Buffer table — each stored beside its weights — has to be read.
        let mut produced = vec![false; tensors.len as usize];
        let mut consumed = vec![false; tensors.len as usize];
        let mark = |list: &mut Vec<bool>, indices: Vec<i32>| {
            for i in indices {
                if let Some(slot) = usize::try_from(i).ok().and_then(|i| list.get_mut(i)) {
                    *slot = true;
                }
            }
        };
        if let Some(inputs) = sub.vector(s, fb::SubGraph::VT_INPUTS, 4, MAX_TENSORS)? {
            mark(&mut produced, inputs.i32s(s)?);
        }
        if let Some(ops) = sub.vector(s, fb::SubGraph::VT_OPERATORS, 4, MAX_OPERATORS)? {
            for o in 0..ops.len {
                let op = ops.table(s, o)?;
                let index = op.u32_or(s, fb::Operator::VT_OPCODE_INDEX, 0)?;
                match uses.get_mut(index as usize) {
                    Some(n) => *n += 1,
                    None => {
                        return bad(format!(
                            "operator {o} of subgraph {g} names operator code {index} of {}",
                            codes.len()
                        ))
                    }
                }
                if let Some(v) = op.vector(s, fb::Operator::VT_INPUTS, 4, MAX_TENSORS)? {
                    mark(&mut consumed, v.i32s(s)?);
                }
                if let Some(v) = op.vector(s, fb::Operator::VT_OUTPUTS, 4, MAX_TENSORS)? {
                    mark(&mut produced, v.i32s(s)?);
                }
            }
        }
        count_types(s, &tensors, &consumed, &produced, &mut info)?;
        if g == 0 {
            info.inputs = io_tensors(s, &sub, fb::SubGraph::VT_INPUTS, &tensors)?;
            info.outputs = io_tensors(s, &sub, fb::SubGraph::VT_OUTPUTS, &tensors)?;
        }
    }
    info.operators = codes
        .into_iter()
        .zip(uses)
        .map(|((name, custom), count)| OperatorUse {
            name,
            custom,
            count,
        })
        .collect();
    info.signatures = signatures(s, &model)?;
    if let Some(entries) = model.vector(s, fb::Model::VT_METADATA, 4, MAX_ENTRIES)? {
        for e in 0..entries.len {
            let entry = entries.table(s, e)?;
            let name = entry
                .string(s, fb::Metadata::VT_NAME, MAX_NAME)?
                .unwrap_or_default();
            let buffer = entry.u32_or(s, fb::Metadata::VT_BUFFER, 0)?;
            match name.as_str() {
                "min_runtime_version" => {
                    let bytes = buffer_bytes(s, buffers, buffer, 64, &mut info)?;
                    info.min_runtime_version = bytes.map(|b| {
                        String::from_utf8_lossy(&b)
                            .trim_end_matches('\0')
                            .to_string()
                    });
                }
                "TFLITE_METADATA" => {
                    info.model_metadata =
                        buffer_bytes(s, buffers, buffer, MAX_METADATA_BYTES, &mut info)?;
                }
                _ => {}
            }
            info.metadata_names.push(name);
        }
    }
    Ok(info)
}

/// Each operator code's name (the builtin's, or the custom code) and whether it is custom.
fn operator_codes(s: &Spans, model: &Table) -> WalkResult<Vec<(String, bool)>> {
    let Some(codes) = model.vector(s, fb::Model::VT_OPERATOR_CODES, 4, MAX_OPCODES)? else {
        return Ok(Vec::new());
    };
    (0..codes.len)
        .map(|i| {
            let code = codes.table(s, i)?;
            // As the runtime reads it: the larger of the old byte field and the new int field.
            let deprecated =
                i32::from(code.i8_or(s, fb::OperatorCode::VT_DEPRECATED_BUILTIN_CODE, 0)?);
            let builtin = code
                .i32_or(s, fb::OperatorCode::VT_BUILTIN_CODE, 0)?
                .max(deprecated);
            if builtin == fb::BuiltinOperator::CUSTOM.0 {
                let name = code
                    .string(s, fb::OperatorCode::VT_CUSTOM_CODE, MAX_NAME)?
                    .unwrap_or_else(|| "CUSTOM".into());
                return Ok((name, true));
            }
            let name = fb::BuiltinOperator(builtin)
                .variant_name()
                .map_or_else(|| format!("BUILTIN_{builtin}"), str::to_string);
            Ok((name, false))
        })
        .collect()
}

/// Counts the types of a subgraph's tensors: a constant (consumed, never produced) is a weight; in a
/// frugal walk a tensor whose table is not held is left out ([`ModelInfo::unread_tensors`]).
fn count_types(
    s: &Spans,
    tensors: &super::flatbuf::Vector,
    consumed: &[bool],
    produced: &[bool],
    info: &mut ModelInfo,
) -> WalkResult<()> {
    for t in 0..tensors.len {
        let dtype = match tensors
            .table(s, t)
            .and_then(|tensor| tensor.i8_or(s, fb::Tensor::VT_TYPE_, 0))
        {
            Ok(code) => dtype_name(code),
            Err(super::flatbuf::Walk::Need(_)) if s.frugal => {
                info.unread_tensors += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let counts = if consumed[t as usize] && !produced[t as usize] {
            &mut info.weight_types
        } else {
            &mut info.activation_types
        };
        *counts.entry(dtype).or_default() += 1;
    }
    Ok(())
}

/// The subgraph's input or output tensors, in model order.
fn io_tensors(
    s: &Spans,
    sub: &Table,
    slot: u16,
    tensors: &super::flatbuf::Vector,
) -> WalkResult<Vec<TensorInfo>> {
    let Some(indices) = sub.vector(s, slot, 4, MAX_TENSORS)? else {
        return Ok(Vec::new());
    };
    indices
        .i32s(s)?
        .into_iter()
        .map(|i| {
            let Some(i) = u32::try_from(i).ok().filter(|i| *i < tensors.len) else {
                return bad(format!(
                    "an input or output names tensor {i} of {}",
                    tensors.len
                ));
            };
            tensor_info(s, &tensors.table(s, i)?)
        })
        .collect()
}

fn tensor_info(s: &Spans, t: &Table) -> WalkResult<TensorInfo> {
    let dims = |slot| -> WalkResult<Option<Vec<i64>>> {
        Ok(t.vector(s, slot, 4, MAX_RANK)?
            .map(|v| v.i32s(s))
            .transpose()?
            .map(|d| d.into_iter().map(i64::from).collect()))
    };
    let quantization = match t.table(s, fb::Tensor::VT_QUANTIZATION)? {
        None => None,
        Some(q) => {
            let scales = q.vector(s, fb::QuantizationParameters::VT_SCALE, 4, u32::MAX)?;
            let zeros = q.vector(s, fb::QuantizationParameters::VT_ZERO_POINT, 8, u32::MAX)?;
            match scales.filter(|v| v.len == 1) {
                Some(scale) => Some(Quantization {
                    scale: s.f32(scale.at(0))?,
                    zero_point: match zeros.filter(|z| z.len > 0) {
                        Some(z) => s.i64(z.at(0))?,
                        None => 0,
                    },
                }),
                None => None,
            }
        }
    };
    Ok(TensorInfo {
        name: t
            .string(s, fb::Tensor::VT_NAME, MAX_NAME)?
            .unwrap_or_default(),
        shape: dims(fb::Tensor::VT_SHAPE)?.unwrap_or_default(),
        shape_signature: dims(fb::Tensor::VT_SHAPE_SIGNATURE)?,
        dtype: dtype_name(t.i8_or(s, fb::Tensor::VT_TYPE_, 0)?),
        quantization,
    })
}

fn signatures(s: &Spans, model: &Table) -> WalkResult<Vec<SignatureInfo>> {
    let Some(defs) = model.vector(s, fb::Model::VT_SIGNATURE_DEFS, 4, MAX_ENTRIES)? else {
        return Ok(Vec::new());
    };
    let maps = |def: &Table, slot| -> WalkResult<Vec<(String, u32)>> {
        let Some(v) = def.vector(s, slot, 4, MAX_TENSORS)? else {
            return Ok(Vec::new());
        };
        (0..v.len)
            .map(|i| {
                let m = v.table(s, i)?;
                Ok((
                    m.string(s, fb::TensorMap::VT_NAME, MAX_NAME)?
                        .unwrap_or_default(),
                    m.u32_or(s, fb::TensorMap::VT_TENSOR_INDEX, 0)?,
                ))
            })
            .collect()
    };
    (0..defs.len)
        .map(|i| {
            let def = defs.table(s, i)?;
            Ok(SignatureInfo {
                key: def
                    .string(s, fb::SignatureDef::VT_SIGNATURE_KEY, MAX_NAME)?
                    .unwrap_or_default(),
                subgraph: def.u32_or(s, fb::SignatureDef::VT_SUBGRAPH_INDEX, 0)?,
                inputs: maps(&def, fb::SignatureDef::VT_INPUTS)?,
                outputs: maps(&def, fb::SignatureDef::VT_OUTPUTS)?,
            })
        })
        .collect()
}

/// The Buffer table `index` of the model's buffers.
fn buffer_table(
    s: &Spans,
    buffers: Option<super::flatbuf::Vector>,
    index: u32,
) -> WalkResult<Table> {
    match buffers {
        Some(b) if index < b.len => b.table(s, index),
        _ => bad(format!(
            "a tensor or metadata entry names buffer {index}, which does not exist"
        )),
    }
}

/// The bytes of buffer `index` when at most `cap` long (`None` when longer or empty).
fn buffer_bytes(
    s: &Spans,
    buffers: Option<super::flatbuf::Vector>,
    index: u32,
    cap: u64,
    info: &mut ModelInfo,
) -> WalkResult<Option<Vec<u8>>> {
    let b = buffer_table(s, buffers, index)?;
    let (start, len) = match b.field(s, fb::Buffer::VT_DATA, 4)? {
        Some(at) => {
            let v = s.follow(at)?;
            (v + 4, u64::from(s.u32(v)?))
        }
        None => {
            // Past the FlatBuffer (models over 2 GiB): an offset from the start of the file.
            let offset = b.u64_or(s, fb::Buffer::VT_OFFSET, 0)?;
            let size = b.u64_or(s, fb::Buffer::VT_SIZE, 0)?;
            if offset > 1 {
                info.external_data_end = Some(
                    info.external_data_end
                        .unwrap_or(0)
                        .max(offset.saturating_add(size)),
                );
            }
            (offset, if offset > 1 { size } else { 0 })
        }
    };
    if len == 0 || len > cap {
        return Ok(None);
    }
    Ok(Some(s.bytes(start, len)?.to_vec()))
}
