#!/usr/bin/env python3
"""The damaged-input corpus (tests/fixtures/damaged/): small model files each broken in one way a
hostile or unlucky user could hand slmc, and cases.json saying which command reads each and the
words its one-line error must hold (tests/test_damaged_inputs.cpp runs them all; the fuzz
script may seed from them). Standard library only, deterministic; never on the product's path.

    python3 scripts/make_damaged_fixtures.py --out tests/fixtures/damaged

Re-run only when the corpus must change; the expected words are slmc's messages as reviewed.
"""
import argparse
import json
import math
import os
import shutil
import struct

HIDDEN, FFN, LAYERS, HEADS, VOCAB, CTX = 8, 16, 1, 2, 16, 32

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": HIDDEN,
    "intermediate_size": FFN,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "num_key_value_heads": HEADS,
    "vocab_size": VOCAB,
    "max_position_embeddings": CTX,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
    "hidden_act": "silu",
    "torch_dtype": "float32",
}


def tensor_shapes():
    shapes = {"model.embed_tokens.weight": [VOCAB, HIDDEN], "model.norm.weight": [HIDDEN]}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        shapes[p + "input_layernorm.weight"] = [HIDDEN]
        shapes[p + "post_attention_layernorm.weight"] = [HIDDEN]
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            shapes[p + f"self_attn.{n}.weight"] = [HIDDEN, HIDDEN]
        shapes[p + "mlp.gate_proj.weight"] = [FFN, HIDDEN]
        shapes[p + "mlp.up_proj.weight"] = [FFN, HIDDEN]
        shapes[p + "mlp.down_proj.weight"] = [HIDDEN, FFN]
    return shapes


def values(count, seed):
    # A fixed small pattern (no RNG dependency): norms near 1 would need care; any finite values do.
    return [math.sin(seed * 7.0 + k * 0.37) * 0.1 for k in range(count)]


def safetensors(shapes, overrides=None):
    """The bytes of a float32 safetensors file; overrides[name] = list of floats replaces values."""
    overrides = overrides or {}
    header, blobs, offset = {}, [], 0
    for seed, (name, shape) in enumerate(sorted(shapes.items())):
        count = 1
        for d in shape:
            count *= d
        data = overrides.get(name, values(count, seed))
        blob = struct.pack(f"<{len(data)}f", *data)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write_hf(path, config=CONFIG, weights=None):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write(config if isinstance(config, str) else json.dumps(config, indent=1))
    with open(os.path.join(path, "model.safetensors"), "wb") as f:
        f.write(weights if weights is not None else safetensors(tensor_shapes()))


def llama2c_header(dim, hidden, layers, heads, kv_heads, vocab, seq):
    return struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab, seq)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    cases = []

    def case(name, command, expect):
        cases.append({"name": name, "command": command, "expect": expect})

    def config_with(**changes):
        c = dict(CONFIG)
        c.update(changes)
        return c

    # config.json: sizes, kinds and relations.
    write_hf(f"{out}/hf_layers_1e9", config_with(num_hidden_layers=1000000000))
    case("hf_layers_1e9", "inspect hf_layers_1e9", "num_hidden_layers 1000000000 is implausibly large")
    write_hf(f"{out}/hf_hidden_is_text", config_with(hidden_size="8"))
    case("hf_hidden_is_text", "inspect hf_hidden_is_text", "\"hidden_size\" has the wrong type")
    write_hf(f"{out}/hf_heads_do_not_divide", config_with(num_attention_heads=3, num_key_value_heads=3))
    case("hf_heads_do_not_divide", "inspect hf_heads_do_not_divide", "not a multiple of num_attention_heads 3")
    write_hf(f"{out}/hf_negative_vocab", config_with(vocab_size=-16))
    case("hf_negative_vocab", "inspect hf_negative_vocab", "vocab_size must be positive")
    write_hf(f"{out}/hf_config_not_json", "{\"hidden_size\": 8,")
    case("hf_config_not_json", "inspect hf_config_not_json", "config.json: not valid JSON")
    write_hf(f"{out}/hf_unknown_architecture", config_with(architectures=["MambaForCausalLM"], model_type="mamba"))
    case("hf_unknown_architecture", "inspect hf_unknown_architecture", "unsupported architecture 'MambaForCausalLM'")

    # model.safetensors: header, offsets, tensors, values.
    good = safetensors(tensor_shapes())
    write_hf(f"{out}/st_truncated", weights=good[: len(good) // 2])
    case("st_truncated", "inspect st_truncated", "the file is truncated or corrupt")
    write_hf(f"{out}/st_header_past_end", weights=struct.pack("<Q", 1 << 40) + good[8:])
    case("st_header_past_end", "inspect st_header_past_end", "runs past the end of the 4208-byte file")
    write_hf(f"{out}/st_header_not_json", weights=struct.pack("<Q", 16) + b"not json at all!" + good[8:])
    case("st_header_not_json", "inspect st_header_not_json", "header is not valid JSON")
    shapes = tensor_shapes()
    del shapes["model.layers.0.mlp.down_proj.weight"]
    write_hf(f"{out}/st_missing_tensor", weights=safetensors(shapes))
    case("st_missing_tensor", "inspect st_missing_tensor", "missing tensor 'model.layers.0.mlp.down_proj.weight'")
    shapes = tensor_shapes()
    shapes["model.layers.0.self_attn.q_proj.weight"] = [HIDDEN, HIDDEN // 2]
    write_hf(f"{out}/st_wrong_shape", weights=safetensors(shapes))
    case("st_wrong_shape", "inspect st_wrong_shape", "'model.layers.0.self_attn.q_proj.weight' has shape [8, 4]")
    nan = values(HIDDEN * HIDDEN, 0)
    nan[5] = float("nan")
    write_hf(f"{out}/st_nan_weight", weights=safetensors(tensor_shapes(), {"model.layers.0.self_attn.k_proj.weight": nan}))
    case("st_nan_weight", "eval st_nan_weight --tokens tokens.txt --ctx 8",
         "'model.layers.0.self_attn.k_proj.weight' contains NaN or Inf")

    # llama2.c checkpoints: the header's fields, and a file shorter than they imply.
    with open(f"{out}/llama2c_negative_dim.bin", "wb") as f:
        f.write(llama2c_header(-8, FFN, LAYERS, HEADS, HEADS, VOCAB, CTX) + b"\0" * 64)
    case("llama2c_negative_dim", "inspect llama2c_negative_dim.bin", "header's dim -8 (expected 1..65536)")
    with open(f"{out}/llama2c_truncated.bin", "wb") as f:
        f.write(llama2c_header(HIDDEN, FFN, LAYERS, HEADS, HEADS, VOCAB, CTX) + b"\0" * 100)
    case("llama2c_truncated", "inspect llama2c_truncated.bin", "truncated: the weights end at byte 128")
    with open(f"{out}/llama2c_layers_1e9.bin", "wb") as f:
        f.write(llama2c_header(HIDDEN, FFN, 1000000000, HEADS, HEADS, VOCAB, CTX) + b"\0" * 64)
    case("llama2c_layers_1e9", "inspect llama2c_layers_1e9.bin", "n_layers 1000000000 (expected 1..1024)")

    # Packs and GGUFs named as such but not one (the readers' own damage tests cover the rest).
    with open(f"{out}/not_a_pack.slmc", "wb") as f:
        f.write(b"PK\x03\x04 a zip file, not a pack" + b"\0" * 64)
    case("not_a_pack", "run not_a_pack.slmc --prompt-ids 1 -n 1", "not a .slmc pack")
    with open(f"{out}/not_a_gguf.gguf", "wb") as f:
        f.write(b"GGUF" + struct.pack("<I", 3) + struct.pack("<Q", 1 << 60) + struct.pack("<Q", 0))
    case("not_a_gguf", "inspect not_a_gguf.gguf", "more than the file's 24 bytes can hold")

    # A tokenizer.json that is not one, beside a sound model.
    write_hf(f"{out}/tokenizer_broken")
    with open(f"{out}/tokenizer_broken/tokenizer.json", "w") as f:
        f.write("{\"model\": {\"type\": \"BPE\", \"vocab\": [1, 2, 3]}}")
    case("tokenizer_broken", "tokenize tokenizer_broken --text hello", "model.vocab that is not an object")

    with open(f"{out}/tokens.txt", "w") as f:
        f.write(" ".join(str(k % VOCAB) for k in range(17)) + "\n")
    with open(f"{out}/cases.json", "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
