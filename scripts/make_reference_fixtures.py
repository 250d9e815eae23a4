#!/usr/bin/env python3
"""Golden references for slmc's tests, produced once with PyTorch + transformers (PyPI/Debian).

Never on the product's path: slmc does not need Python. Re-run only when the fixtures must change:

    python3 scripts/make_reference_fixtures.py --models ../shared/models --out tests/fixtures/reference

What it writes (all small):
  stories260K_logits.json   logits of transformers' LlamaForCausalLM for fixed ids, with the
                            weights read from the llama2.c .bin *by this script* (numpy + the
                            permutation of Karpathy's export.py), independent of slmc's reader.
  stories260K_logits_f64.json
                            the same model's logits for the same ids computed in float64 throughout
                            (transformers' RMSNorm and eager softmax cast to float32 inside, which
                            this script undoes for this record; the rotary tables stay float32
                            values, as transformers builds them): the exact logits that `slmc validate --reference-dtype
                            float64` and the runtime's float accuracy are checked against.
  stories260K_sample.txt    256 token ids sampled from the model (seed 0, temperature 1), and the
                            model's mean NLL on them in stories260K_logits.json: a stand-in for a
                            TinyStories sentence, since the model's own 512-token tokenizer is not
                            in ../shared.
  tiny-gpt2/ tiny-qwen2/ tiny-llama-bf16/
                            tiny random Hugging Face checkpoints (GPT-2 with Conv1D layout;
                            Qwen2 with q/k/v biases, GQA, sharded safetensors; Llama stored in
                            bfloat16) + reference_logits.json each.
"""
import argparse
import json
import os
import struct

import numpy as np
import torch
import transformers


def read_llama2c(path):
    with open(path, "rb") as f:
        data = f.read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("7i", data[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    head = dim // n_heads
    kv_dim = n_kv * head
    arr = np.frombuffer(data, dtype=np.float32, offset=28)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        out = arr[pos:pos + n].reshape(shape).copy()
        pos += n
        return out

    w = {}
    w["emb"] = take(vocab, dim)
    w["att_norm"] = take(n_layers, dim)
    w["wq"] = take(n_layers, dim, dim)
    w["wk"] = take(n_layers, kv_dim, dim)
    w["wv"] = take(n_layers, kv_dim, dim)
    w["wo"] = take(n_layers, dim, dim)
    w["ffn_norm"] = take(n_layers, dim)
    w["w1"] = take(n_layers, hidden, dim)
    w["w2"] = take(n_layers, dim, hidden)
    w["w3"] = take(n_layers, hidden, dim)
    w["norm"] = take(dim)
    take(seq_len * head)  # freq_cis real + imag
    w["cls"] = w["emb"] if shared else take(vocab, dim)
    cfg = dict(dim=dim, hidden=hidden, n_layers=n_layers, n_heads=n_heads, n_kv=n_kv, vocab=vocab,
               seq_len=seq_len, shared=shared)
    return cfg, w


def permute(w, n_heads, dim1, dim2):
    # Karpathy's export.py permute_original: Meta interleaved rotary -> HF rotate-half.
    return w.reshape(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(0, 2, 1, 3).reshape(dim1, dim2)


def stories_model(path):
    cfg, w = read_llama2c(path)
    config = transformers.LlamaConfig(
        vocab_size=cfg["vocab"], hidden_size=cfg["dim"], intermediate_size=cfg["hidden"],
        num_hidden_layers=cfg["n_layers"], num_attention_heads=cfg["n_heads"],
        num_key_value_heads=cfg["n_kv"], max_position_embeddings=cfg["seq_len"], rms_norm_eps=1e-5,
        rope_theta=10000.0, tie_word_embeddings=cfg["shared"], hidden_act="silu")
    model = transformers.LlamaForCausalLM(config).eval()
    kv_dim = cfg["n_kv"] * cfg["dim"] // cfg["n_heads"]
    sd = {"model.embed_tokens.weight": w["emb"], "model.norm.weight": w["norm"], "lm_head.weight": w["cls"]}
    for i in range(cfg["n_layers"]):
        p = f"model.layers.{i}."
        sd[p + "input_layernorm.weight"] = w["att_norm"][i]
        sd[p + "post_attention_layernorm.weight"] = w["ffn_norm"][i]
        sd[p + "self_attn.q_proj.weight"] = permute(w["wq"][i], cfg["n_heads"], cfg["dim"], cfg["dim"])
        sd[p + "self_attn.k_proj.weight"] = permute(w["wk"][i], cfg["n_kv"], kv_dim, cfg["dim"])
        sd[p + "self_attn.v_proj.weight"] = w["wv"][i]
        sd[p + "self_attn.o_proj.weight"] = w["wo"][i]
        sd[p + "mlp.gate_proj.weight"] = w["w1"][i]
        sd[p + "mlp.down_proj.weight"] = w["w2"][i]
        sd[p + "mlp.up_proj.weight"] = w["w3"][i]
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()},
                                                strict=False)
    assert not unexpected and all("rotary_emb" in m for m in missing), (missing, unexpected)
    return model


def logits_record(model, ids):
    with torch.no_grad():
        logits = model(torch.tensor(ids, dtype=torch.long)).logits.float()
    return {"ids": ids, "shape": list(logits.shape),
            "logits": [float(f"{v:.8g}") for v in logits.reshape(-1).tolist()]}


def float64_logits_record(model, ids):
    """Logits of a float64 copy of `model` with every RMSNorm and softmax kept in float64
    (transformers' LlamaRMSNorm and eager attention compute those in float32 whatever the input
    dtype)."""
    import copy
    exact = copy.deepcopy(model).double()

    def rms_norm_float64(self, hidden_states):
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))

    softmax = torch.nn.functional.softmax

    def softmax_float64(input, dim=None, _stacklevel=3, dtype=None):
        return softmax(input, dim=dim, dtype=torch.float64 if input.dtype == torch.float64 else dtype)

    norm_type = type(exact.model.norm)
    original = norm_type.forward
    norm_type.forward = rms_norm_float64
    torch.nn.functional.softmax = softmax_float64
    try:
        with torch.no_grad():  # not exact(...).logits: LlamaForCausalLM casts those to float32
            hidden = exact.model(torch.tensor(ids, dtype=torch.long)).last_hidden_state
            logits = exact.lm_head(hidden)
    finally:
        norm_type.forward = original
        torch.nn.functional.softmax = softmax
    assert logits.dtype == torch.float64
    return {"ids": ids, "shape": list(logits.shape),
            "logits": [float(f"{v:.12g}") for v in logits.reshape(-1).tolist()]}


def mean_nll(model, ids):
    with torch.no_grad():
        out = model(torch.tensor([ids], dtype=torch.long), labels=torch.tensor([ids], dtype=torch.long))
    return float(out.loss)


def randomize(model, seed):
    # transformers' default init (std 0.02) gives near-zero logits: a weak test. Use larger weights.
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or name.split(".")[-2].startswith("ln_"):
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.15 * torch.randn(p.shape, generator=g))
    return model


def save_tiny(model, out_dir, ids, **save_kwargs):
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True, **save_kwargs)
    reloaded = type(model).from_pretrained(out_dir).float().eval()  # what slmc will read, widened to float32
    with open(os.path.join(out_dir, "reference_logits.json"), "w") as f:
        json.dump(logits_record(reloaded, ids), f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="../shared/models")
    ap.add_argument("--out", default="tests/fixtures/reference")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)

    stories = stories_model(os.path.join(args.models, "stories260K", "stories260K.bin"))
    g = torch.Generator().manual_seed(0)
    ids = [1]
    with torch.no_grad():
        while len(ids) < 256:
            logits = stories(torch.tensor([ids])).logits[0, -1]
            ids.append(int(torch.multinomial(torch.softmax(logits, -1), 1, generator=g)))
    with open(os.path.join(args.out, "stories260K_sample.txt"), "w") as f:
        f.write("".join(f"{i}\n" for i in ids))
    record = logits_record(stories, [ids[:24], ids[100:124]])
    record["sample_mean_nll"] = mean_nll(stories, ids)
    rng = np.random.default_rng(0)
    record["random_ids"] = [int(x) for x in rng.integers(3, 512, size=256)]
    record["random_mean_nll"] = mean_nll(stories, record["random_ids"])
    record["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
    with open(os.path.join(args.out, "stories260K_logits.json"), "w") as f:
        json.dump(record, f)
    exact = float64_logits_record(stories, [ids[:24], ids[100:124]])
    exact["versions"] = record["versions"]
    with open(os.path.join(args.out, "stories260K_logits_f64.json"), "w") as f:
        json.dump(exact, f)

    ids = [[1, 5, 9, 17, 33, 2, 60, 7, 81, 3, 44, 12], [90, 4, 4, 4, 18, 77, 62, 0, 31, 8, 55, 23]]
    gpt2 = transformers.GPT2Config(vocab_size=96, n_embd=32, n_layer=2, n_head=4, n_positions=64)
    save_tiny(randomize(transformers.GPT2LMHeadModel(gpt2).eval(), 1), os.path.join(args.out, "tiny-gpt2"), ids)

    qwen = transformers.Qwen2Config(vocab_size=96, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                    rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=False,
                                    use_sliding_window=False)
    save_tiny(randomize(transformers.Qwen2ForCausalLM(qwen).eval(), 2), os.path.join(args.out, "tiny-qwen2"), ids,
              max_shard_size="20KB")

    llama = transformers.LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
                                     rms_norm_eps=1e-5, tie_word_embeddings=True)
    bf16 = randomize(transformers.LlamaForCausalLM(llama).eval(), 3).to(torch.bfloat16)
    save_tiny(bf16, os.path.join(args.out, "tiny-llama-bf16"), ids)


if __name__ == "__main__":
    main()
