"""Builds a .litertlm bundle with the official builder (the `litert-lm-builder` package, pinned in
scripts/contract-venv) and prints, as JSON, what the same package's generated header code reads back
from it: the format version, the system metadata, each section (data type, offsets, items) and, with
LLM metadata (a text-format `litert.lm.proto.LlmMetadata`), what the package's own protobuf code decodes
of that section — the oracle of the catalog's .litertlm inspection.

    litertlm_bundle.py OUT.litertlm MODEL.tflite [TOKENIZER.spm] [--llm-metadata TEXTPROTO]
"""
import json
import os
import struct
import sys
import tempfile

from litert_lm_builder import litertlm_builder as builder
from litert_lm_builder import litertlm_core as core
from litert_lm_builder import litertlm_header_schema_py_generated as schema
from litert_lm_builder.runtime.proto import llm_metadata_pb2


def build(out, model, tokenizer, llm_metadata):
    b = builder.LitertLmFileBuilder()
    b.add_system_metadata(builder.Metadata(key="Authors", value="Pocket AI tests", dtype=builder.DType.STRING))
    if llm_metadata:
        with tempfile.NamedTemporaryFile("w", suffix=".textproto", delete=False) as text:
            text.write(llm_metadata)
        b.add_llm_metadata(text.name)
    b.add_tflite_model(model, builder.TfLiteModelType.PREFILL_DECODE)
    if tokenizer:
        b.add_sentencepiece_tokenizer(tokenizer)
    with open(out, "wb") as f:
        b.build(f)
    if llm_metadata:
        os.unlink(text.name)


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
        if names[s.DataType()] == "LlmMetadataProto":
            llm = llm_metadata_pb2.LlmMetadata.FromString(data[s.BeginOffset():s.EndOffset()])
            sections[-1]["llm_metadata"] = {"model_type": llm.llm_model_type.WhichOneof("model_type"),
                                            "max_num_tokens": llm.max_num_tokens}
    system = header.SystemMetadata()
    keys = [system.Entries(j).Key().decode() for j in range(system.EntriesLength())]
    return {"version": f"{major}.{minor}.{patch}", "system_keys": keys, "sections": sections}


if __name__ == "__main__":
    args = sys.argv[1:]
    llm_metadata = None
    if "--llm-metadata" in args:
        at = args.index("--llm-metadata")
        llm_metadata = args[at + 1]
        del args[at:at + 2]
    build(args[0], args[1], args[2] if len(args) > 2 else None, llm_metadata)
    print(json.dumps(read_back(args[0])))
