#!/usr/bin/env python3
"""Golden GGUF fixtures for slmc's GGUF reader tests, written once with the PyPI `gguf` package
(its GGUFWriter and quants.py quantize/dequantize), independent of slmc's C++ reader.

Never on the product's path: slmc does not need Python. Re-run only when the fixtures must change:

    python3 scripts/make_gguf_fixtures.py --models ../shared/models --out tests/fixtures/gguf

What it writes (all small, seed 0):
  all_types.gguf      one 2 x 256 tensor of every type slmc dequantizes, named after the type in
                      lower case ("q4_k"), plus one metadata key of every value type ("test.*").
                      Types the package can quantize are quantized from random normals; K-quants
                      (dequantize-only there) are random blocks with sane float16 scales.
  all_types.f32       the package's dequantization of each tensor, raw little-endian float32,
                      in tensor order (512 values each): the bit-exact golden.
  unsupported.gguf    one IQ2_XXS tensor (raw bytes), a type slmc refuses by name.
  tiny_llama.gguf     a random llama (hidden 64, 4 heads / 2 kv heads, MLP 64, 1 layer, vocab 64,
                      untied head) as convert_hf_to_gguf.py lays it out: q/k rows permuted,
                      Q8_0 / Q4_1 / Q4_0 / F16 / F32 tensors.
  tiny_llama_qk.f32   the Hugging Face q_proj then k_proj (rotate-half layout) the import must give:
                      dequantize(quantize(W_hf)) computed on the unpermuted rows (quantization is
                      row-local, so this is exactly the permuted file's rows put back).
  smollm2_spot.json   spot values of the real SmolLM2-135M GGUF dequantized by the package
                      (q_proj after undoing the permute, down_proj, embed_tokens), as float32 hex.
"""
import argparse
import json
import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants

SUPPORTED = [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]
# Byte offsets of the float16 super-block scales inside each K-quant block (ggml-common.h).
K_SCALE_OFFSETS = {T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}


def permute(w, n_head):
    """convert_hf_to_gguf.py's permute: Hugging Face rotate-half rows -> GGUF's interleaved rows."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head):
    """The inverse, built from permute itself: row g of the file came from HF row perm[g]."""
    perm = permute(np.arange(w.shape[0]), n_head)
    out = np.empty_like(w)
    out[perm] = w
    return out


def encode(rng, data, qtype):
    """Raw bytes of `data` (rows x cols float32) in qtype, as a uint8 array (rows, row_bytes)."""
    if qtype in K_SCALE_OFFSETS:
        block_size, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
        rows, cols = data.shape
        raw = rng.integers(0, 256, size=(rows * cols // block_size, block_bytes), dtype=np.uint8)
        for off in K_SCALE_OFFSETS[qtype]:
            raw[:, off:off + 2] = rng.uniform(0.001, 0.05, size=(raw.shape[0], 1)).astype(np.float16).view(np.uint8)
        return raw.reshape(rows, -1)
    q = quants.quantize(data, qtype)
    return q.view(np.uint8).reshape(data.shape[0], -1)


def add_raw(writer, name, raw, qtype):
    writer.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=qtype)


def all_types(out, rng):
    w = gguf.GGUFWriter(os.path.join(out, "all_types.gguf"), "test")
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_uint64("test.u64", 1 << 40)
    w.add_int64("test.i64", -(1 << 40))
    w.add_float32("test.f32", 0.25)
    w.add_float64("test.f64", 1e-300)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "héllo")
    w.add_array("test.strings", ["a", "", "ccc"])
    w.add_key_value("test.ints", [1, -2, 3], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.INT16)
    w.add_key_value("test.floats", [0.5, -1.5], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.FLOAT32)
    golden = []
    for qtype in SUPPORTED:
        data = rng.standard_normal((2, 256)).astype(np.float32)
        raw = encode(rng, data, qtype)
        add_raw(w, qtype.name.lower(), raw, qtype)
        golden.append(quants.dequantize(raw, qtype).astype(np.float32).reshape(-1))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    np.concatenate(golden).astype("<f4").tofile(os.path.join(out, "all_types.f32"))


def unsupported(out, rng):
    w = gguf.GGUFWriter(os.path.join(out, "unsupported.gguf"), "test")
    raw = rng.integers(0, 256, size=(1, 66), dtype=np.uint8)
    add_raw(w, "iq", raw, T.IQ2_XXS)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def tiny_llama(out, rng):
    hidden, heads, kv_heads, mlp, vocab = 64, 4, 2, 64, 64
    head_dim = hidden // heads
    w = gguf.GGUFWriter(os.path.join(out, "tiny_llama.gguf"), "llama")
    w.add_name("tiny-llama")
    w.add_block_count(1)
    w.add_context_length(128)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(mlp)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"t{i}" for i in range(vocab)])
    w.add_bos_token_id(3)
    w.add_eos_token_id(4)

    def normal(*shape):
        return (rng.standard_normal(shape) * 0.1).astype(np.float32)

    w_q, w_k = normal(heads * head_dim, hidden), normal(kv_heads * head_dim, hidden)
    add_raw(w, "token_embd.weight", encode(rng, normal(vocab, hidden), T.Q8_0), T.Q8_0)
    w.add_tensor("blk.0.attn_norm.weight", 1 + normal(hidden))
    add_raw(w, "blk.0.attn_q.weight", encode(rng, permute(w_q, heads), T.Q4_1), T.Q4_1)
    add_raw(w, "blk.0.attn_k.weight", encode(rng, permute(w_k, kv_heads), T.Q8_0), T.Q8_0)
    add_raw(w, "blk.0.attn_v.weight", encode(rng, normal(kv_heads * head_dim, hidden), T.Q4_0), T.Q4_0)
    add_raw(w, "blk.0.attn_output.weight", encode(rng, normal(hidden, hidden), T.Q4_1), T.Q4_1)
    w.add_tensor("blk.0.ffn_norm.weight", 1 + normal(hidden))
    add_raw(w, "blk.0.ffn_gate.weight", encode(rng, normal(mlp, hidden), T.Q4_1), T.Q4_1)
    add_raw(w, "blk.0.ffn_up.weight", encode(rng, normal(mlp, hidden), T.Q5_0), T.Q5_0)
    w.add_tensor("blk.0.ffn_down.weight", normal(hidden, mlp).astype(np.float16))
    w.add_tensor("output_norm.weight", 1 + normal(hidden))
    add_raw(w, "output.weight", encode(rng, normal(vocab, hidden), T.Q4_0), T.Q4_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    golden = [quants.dequantize(encode(rng, w_q, T.Q4_1), T.Q4_1), quants.dequantize(encode(rng, w_k, T.Q8_0), T.Q8_0)]
    np.concatenate([g.reshape(-1) for g in golden]).astype("<f4").tofile(os.path.join(out, "tiny_llama_qk.f32"))


def hexes(values):
    return [format(int(v), "08x") for v in np.asarray(values, dtype=np.float32).view(np.uint32)]


def smollm2_spot(out, models):
    path = os.path.join(models, "smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf")
    reader = gguf.GGUFReader(path)
    tensors = {t.name: t for t in reader.tensors}

    def full(name):
        t = tensors[name]
        return quants.dequantize(np.asarray(t.data), t.tensor_type).reshape(-1, int(t.shape[0]))

    spots = []
    q = unpermute(full("blk.0.attn_q.weight"), 9)
    k = unpermute(full("blk.0.attn_k.weight"), 3)
    for name, hf, rows, count, values in [
        ("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight", [0, 1, 32, 33, 100], 16, q),
        ("blk.0.attn_k.weight", "model.layers.0.self_attn.k_proj.weight", [1, 40, 130], 16, k),
        ("blk.0.ffn_down.weight", "model.layers.0.mlp.down_proj.weight", [0], 64, full("blk.0.ffn_down.weight")),
        ("token_embd.weight", "model.embed_tokens.weight", [0, 1000], 32, full("token_embd.weight")),
    ]:
        for r in rows:
            spots.append({"gguf": name, "hf": hf, "row": r, "values": hexes(values[r, :count])})
    with open(os.path.join(out, "smollm2_spot.json"), "w") as f:
        json.dump({"source": "gguf " + getattr(gguf, "__version__", "0.19.0") + " quants.dequantize", "spots": spots}, f,
                  indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="../shared/models")
    ap.add_argument("--out", default="tests/fixtures/gguf")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(0)
    all_types(a.out, rng)
    unsupported(a.out, rng)
    tiny_llama(a.out, rng)
    smollm2_spot(a.out, a.models)


if __name__ == "__main__":
    main()
