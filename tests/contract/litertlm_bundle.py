"""Builds a .litertlm bundle with the official builder (the `litert-lm-builder` package, pinned in
scripts/contract-venv) and prints, as JSON, what the same package's generated header code reads back
from it: the format version, the system metadata and each section (data type, offsets, items) — the
oracle of the catalog's .litertlm inspection.

    litertlm_bundle.py OUT.litertlm MODEL.tflite [TOKENIZER.spm]
"""
import json
import struct
import sys

from litert_lm_builder import litertlm_builder as builder
from litert_lm_builder import litertlm_core as core
from litert_lm_builder import litertlm_header_schema_py_generated as schema


def build(out, model, tokenizer):
    b = builder.LitertLmFileBuilder()
    b.add_system_metadata(builder.Metadata(key="Authors", value="Pocket AI tests", dtype=builder.DType.STRING))
    b.add_tflite_model(model, builder.TfLiteModelType.PREFILL_DECODE)
    if tokenizer:
        b.add_sentencepiece_tokenizer(tokenizer)
    with open(out, "wb") as f:
        b.build(f)


def read_back(path):
    names = {v: k for k, v in schema.AnySectionDataType.__dict__.items() if not k.startswith("_")}
    with open(path, "rb") as f:
        data = f.read()
    major, minor, patch = struct.unpack("<III", data[8:20])
    end = struct.unpack("<Q", data[core.HEADER_END_LOCATION_BYTE_OFFSET:32])[0]
    header = schema.LiteRTLMMetaData.GetRootAs(data[core.HEADER_BEGIN_BYTE_OFFSET:end], 0)
    sections = []
    meta = header.SectionMetadata()
    for i in range(meta.ObjectsLength()):
        s = meta.Objects(i)
        items = [s.Items(j).Key().decode() for j in range(s.ItemsLength())]
        sections.append({"data_type": names[s.DataType()], "begin": s.BeginOffset(),
                         "end": s.EndOffset(), "item_keys": items})
    system = header.SystemMetadata()
    keys = [system.Entries(j).Key().decode() for j in range(system.EntriesLength())]
    return {"version": f"{major}.{minor}.{patch}", "system_keys": keys, "sections": sections}


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    print(json.dumps(read_back(sys.argv[1])))
