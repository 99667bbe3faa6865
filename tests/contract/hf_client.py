"""Reads the Hub simulator with the official `huggingface_hub` client and prints what it saw as JSON.

Usage: HF_ENDPOINT=http://127.0.0.1:PORT python hf_client.py REPO_ID [REPO_ID ...]
The Rust contract test compares this with what our own client reads from the same simulator.
"""
import json
import sys

from huggingface_hub import HfApi


def main() -> None:
    api = HfApi()
    listed = {}
    for flt in ("litert", "litert-lm", "tflite"):
        for m in api.list_models(filter=flt, limit=None, full=True):
            listed[m.id] = {"sha": m.sha, "private": m.private}
    repos = {}
    for repo_id in sys.argv[1:]:
        info = api.model_info(repo_id, files_metadata=True)
        files = {}
        for s in info.siblings or []:
            files[s.rfilename] = {
                "size": s.size,
                "blob_id": s.blob_id,
                "sha256": s.lfs.sha256 if s.lfs else None,
            }
        tree = {}
        for entry in api.list_repo_tree(repo_id, recursive=True):
            if getattr(entry, "lfs", None) is not None or hasattr(entry, "size"):
                tree[entry.path] = {
                    "size": entry.size,
                    "sha256": entry.lfs.sha256 if getattr(entry, "lfs", None) else None,
                    "blob_id": entry.blob_id,
                }
        repos[repo_id] = {"id": info.id, "sha": info.sha, "files": files, "tree": tree}
    json.dump({"listed": listed, "repos": repos}, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
