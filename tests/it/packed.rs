//! Files packed into a `.tflite` model (issue #21): the ZIP the metadata populator appends after the
//! FlatBuffer is listed, and the label file the metadata names becomes the version's `labels` asset —
//! extracted by range, stored by its hash, served by this service and downloaded by the app.

use crate::inspect::{synthetic_model, Counted, Synthetic};
use pocket_catalog::inspect::packed::MAX_LABEL_BYTES;
use pocket_catalog::inspect::{inspect_tflite, Budget};
use sha2::{Digest, Sha256};
use std::io::{Seek, Write};

/// 1,001 class names, one per line, as the synthetic classifier's `[1,1001]` output needs.
pub fn labels_text() -> Vec<u8> {
    let mut text = String::from("background\n");
    for i in 1..1001 {
        text.push_str(&format!("leaf disease {i}\n"));
    }
    text.into_bytes()
}

/// How a ZIP is put after the model.
#[derive(Debug, Clone, Copy)]
pub enum Packing {
    /// Python's `zipfile` in append mode, as the TFLite metadata populator packs files: offsets
    /// counted from the start of the model file.
    PythonAppend,
    /// Appended by the `zip` crate with the members deflated (offsets from the start of the file too).
    Deflated,
}

/// `model` with `files` packed after it.
pub fn pack(model: &[u8], files: &[(&str, &[u8])], how: Packing) -> Vec<u8> {
    match how {
        Packing::PythonAppend => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("model.tflite");
            std::fs::write(&path, model).unwrap();
            for (name, bytes) in files {
                let member = dir.path().join("member");
                std::fs::write(&member, bytes).unwrap();
                let append = "import sys, zipfile\n\
                    with zipfile.ZipFile(sys.argv[1], 'a') as z:\n    \
                    z.write(sys.argv[2], arcname=sys.argv[3])";
                crate::inspect::contract_run([
                    "-c".as_ref(),
                    append.as_ref(),
                    path.as_os_str(),
                    member.as_os_str(),
                    name.as_ref(),
                ]);
            }
            std::fs::read(&path).unwrap()
        }
        Packing::Deflated => {
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            let mut cursor = std::io::Cursor::new(model.to_vec());
            cursor.seek(std::io::SeekFrom::End(0)).unwrap();
            let mut zip = zip::ZipWriter::new(cursor);
            for (name, bytes) in files {
                zip.start_file(*name, options).unwrap();
                zip.write_all(bytes).unwrap();
            }
            zip.finish().unwrap().into_inner()
        }
    }
}

/// The synthetic float classifier with metadata and its 1,001 labels packed as the metadata populator
/// packs them (`weight_bytes` of padding between its weights): one the app can run.
pub fn labelled_classifier(weight_bytes: usize) -> Vec<u8> {
    pack(
        &synthetic_model(&Synthetic {
            metadata: true,
            weight_bytes,
            ..Default::default()
        }),
        &[("labels.txt", &labels_text())],
        Packing::PythonAppend,
    )
}

/// The synthetic int8 classifier with metadata, 4 MiB of weights and its labels packed.
pub fn packed_classifier(how: Packing) -> Vec<u8> {
    let model = synthetic_model(&Synthetic {
        int8: true,
        metadata: true,
        weight_bytes: 4 << 20,
        ..Default::default()
    });
    pack(
        &model,
        &[
            ("labels.txt", &labels_text()),
            ("README.md", b"leaf classifier\n"),
        ],
        how,
    )
}

#[tokio::test]
async fn the_label_file_packed_in_a_model_is_extracted_by_range_however_it_was_packed() {
    let labels = labels_text();
    for how in [Packing::PythonAppend, Packing::Deflated] {
        let bytes = packed_classifier(how);
        let size = bytes.len() as u64;
        let source = Counted::new(&bytes);
        let seen = inspect_tflite(&source, size, Budget::for_size(size))
            .await
            .unwrap_or_else(|e| panic!("{how:?}: {e:?}"));
        let packed = seen.packed.clone().unwrap().unwrap_or_else(|e| {
            panic!("{how:?}: {e}; read {:?}", source.ranges());
        });
        let names: Vec<&str> = packed.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["labels.txt", "README.md"], "{how:?}");
        let file = seen
            .labels()
            .unwrap_or_else(|| panic!("{how:?}: {packed:?}"));
        assert_eq!(file.name, "labels.txt");
        assert_eq!(file.bytes, labels, "{how:?}");
        assert_eq!(file.sha256, hex::encode(Sha256::digest(&labels)));
        assert_eq!(file.lines, 1001);
        // The tensors are still read exactly, and the weights never.
        assert_eq!(seen.model.outputs[0].shape, [1, 1001]);
        assert!(seen.cost.bytes < 512 * 1024, "{how:?}: {:?}", seen.cost);
        assert!(seen.cost.requests <= 4, "{how:?}: {:?}", seen.cost);
        assert_eq!(seen.cost.requests as usize, source.reads());
        let shown = pocket_catalog::inspect::summary(&Ok(seen.clone()));
        let listed = &shown["inspection"]["packed_files"];
        assert_eq!(listed["labels"]["name"], "labels.txt");
        assert_eq!(listed["labels"]["lines"], 1001);
        assert_eq!(listed["members"][1]["name"], "README.md");
    }
}

#[tokio::test]
async fn a_label_file_that_is_named_but_not_packed_or_too_large_is_reported_not_extracted() {
    let model = synthetic_model(&Synthetic {
        metadata: true,
        ..Default::default()
    });
    let inspect = |bytes: Vec<u8>| async move {
        let size = bytes.len() as u64;
        inspect_tflite(&bytes[..], size, Budget::for_size(size))
            .await
            .unwrap()
    };
    // The metadata names labels.txt, and nothing is appended.
    let seen = inspect(model.clone()).await;
    let why = seen.packed.clone().unwrap().unwrap_err();
    assert_eq!(
        why,
        "the metadata names packed files, but no ZIP archive follows the model"
    );
    assert!(seen.labels().is_none());
    // An archive without the file the metadata names.
    let other = pack(&model, &[("vocab.txt", b"a\nb\n")], Packing::PythonAppend);
    let seen = inspect(other).await;
    let packed = seen.packed.clone().unwrap().unwrap();
    assert_eq!(
        packed.labels.unwrap().unwrap_err(),
        "the metadata names the label file labels.txt, but the model does not pack it"
    );
    // A label file over the limit is listed, not read.
    let huge = vec![b'x'; MAX_LABEL_BYTES as usize + 1];
    let seen = inspect(pack(&model, &[("labels.txt", &huge)], Packing::Deflated)).await;
    let packed = seen.packed.clone().unwrap().unwrap();
    assert!(packed.labels.unwrap().unwrap_err().contains("more than"));
    assert!(seen.cost.bytes < 256 * 1024, "{:?}", seen.cost);
    // Not text.
    let binary = pack(
        &model,
        &[("labels.txt", &[0xff, 0xfe, 0x00])],
        Packing::PythonAppend,
    );
    let seen = inspect(binary).await;
    let why = seen.packed.unwrap().unwrap().labels.unwrap().unwrap_err();
    assert_eq!(why, "the label file labels.txt is not UTF-8 text");
}
