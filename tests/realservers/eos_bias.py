"""Give a tiny random-weight model an end-of-sequence token that comes early and often.

A random model almost never samples EOS on its own, so a server that ignores `ignore_eos`
would look exactly like one that honours it. This tool makes EOS likely at every step:
it adds a constant to one hidden dimension of every token embedding (the final RMSNorm
then leaves that dimension at about sqrt(hidden size)) and gives the EOS row of the output
matrix a weight on that dimension, which acts as a bias on the EOS logit.

Usage:
  python eos_bias.py gguf SRC.gguf DST.gguf --eos-prob 0.08   (needs gguf + numpy)
  python eos_bias.py hf SRC_DIR DST_DIR --eos-prob 0.08       (needs safetensors + numpy)
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path
from typing import Any

EMBED_OFFSET = 100.0


def eos_weight(eos_prob: float, vocab: int, hidden: int) -> float:
    """Weight on the offset dimension giving EOS about `eos_prob` per step against `vocab` tokens."""
    logit = math.log(eos_prob / (1.0 - eos_prob) * (vocab - 1))
    return logit / math.sqrt(hidden)


def bias_arrays(embed: Any, out: Any, eos_id: int, eos_prob: float) -> None:
    """Edit in place: embed (vocab, hidden) and out (vocab, hidden) numpy arrays."""
    vocab, hidden = embed.shape
    embed[:, 0] += EMBED_OFFSET
    out[:, 0] = 0.0
    out[eos_id, 0] = eos_weight(eos_prob, vocab, hidden)


def do_gguf(src: Path, dst: Path, eos_prob: float) -> None:
    import gguf

    tmp = dst.with_suffix(".tmp")
    shutil.copyfile(src, tmp)
    reader = gguf.GGUFReader(tmp, "r+")
    tensors = {t.name: t.data for t in reader.tensors}
    eos_field = reader.fields["tokenizer.ggml.eos_token_id"]
    eos_id = int(eos_field.parts[eos_field.data[0]][0])
    bias_arrays(tensors["token_embd.weight"], tensors["output.weight"], eos_id, eos_prob)
    del reader, tensors
    tmp.replace(dst)


def do_hf(src: Path, dst: Path, eos_prob: float) -> None:
    from safetensors.numpy import load_file, save_file

    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    weights = load_file(tmp / "model.safetensors")
    eos_id = int(json.loads((tmp / "config.json").read_text())["eos_token_id"])
    embed = weights["model.embed_tokens.weight"].copy()
    out = weights["lm_head.weight"].copy()
    bias_arrays(embed, out, eos_id, eos_prob)
    weights["model.embed_tokens.weight"] = embed
    weights["lm_head.weight"] = out
    save_file(weights, tmp / "model.safetensors", metadata={"format": "pt"})
    shutil.rmtree(dst, ignore_errors=True)
    tmp.replace(dst)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["gguf", "hf"])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--eos-prob", type=float, default=0.08, help="chance of EOS at each step (0..1)")
    a = ap.parse_args()
    if not 0.0 < a.eos_prob < 1.0:
        ap.error("--eos-prob must be between 0 and 1")
    (do_gguf if a.kind == "gguf" else do_hf)(a.src, a.dst, a.eos_prob)
    print(f"wrote {a.dst} (EOS about {a.eos_prob:.0%} per step)")


if __name__ == "__main__":
    main()
