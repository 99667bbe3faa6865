//! Making a version runnable in the app: the app's runtime as the specs are written for it
//! (`app_profile`), the app's pipeline-spec schema (`spec`), what a model file's
//! tensors admit (`conform`), the recipes that derive a pipeline from what a file declares (`recipe/`),
//! reading a version's main file — on the Hub or elsewhere (`reading`, `webfile`) — and the files beside it
//! (`beside`: a config's end-of-sequence id, the labels and tokenizer as the app reads them), each
//! distinct file read once (`readings`, kept by its SHA-256), and recording what it gave (`derive`).

pub mod app_profile;
pub mod beside;
pub mod conform;
pub mod derive;
pub mod reading;
pub mod readings;
pub mod recipe;
pub mod spec;
pub mod webfile;
