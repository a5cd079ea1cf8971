#!/usr/bin/env python3
"""llama.cpp's quantization of an HF checkpoint, for the reference points of docs/results/quantization.md (a
measuring tool, not part of moekit; written here, no llama.cpp code in it).

What llama-quantize does to a model's decoder Linear weights, without GGUF in between: each tensor's type is chosen
by the rules of llama.cpp's src/llama-quant.cpp (`llama_tensor_get_type`: per ftype, attention V/K/output and the FFN
down projections bumped by role, layer and expert count, `use_more_bits`, the fallback types for rows that are not a
multiple of the block), then quantized and dequantized by ggml's own kernels (`ggml_quantize_chunk`, the type's
`to_float`) from a ggml build (https://github.com/ggml-org/ggml, built by the user: cmake; not shipped or built here),
with an importance matrix when one is given (llama-imatrix's statistic: mean x^2 per input column, experts over
their routed tokens; `ImatrixDump` writes it). Embeddings, lm_head, norms and routers are kept, as moekit keeps them.
Writes a fake-quant checkpoint (every tensor f32, the config's dtype float32, so nothing is rounded twice) and prints
its bits per weight over the decoder Linear weights (the GGML blocks' bytes: scales and minimums included).

    GGML_LIB=/path/to/libggml-base.so quantize_like_llamacpp.py SRC OUT FTYPE [--imatrix IMATRIX.json]

FTYPE: Q2_K, Q3_K_M, Q4_0, Q4_K_M, Q8_0.
"""
import ctypes, json, os, re, shutil, struct, sys
import numpy as np

LIB = ctypes.CDLL(os.environ["GGML_LIB"])  # libggml-base.so of a ggml build (github.com/ggml-org/ggml), not shipped here
T = dict(F16=1, Q4_0=2, Q4_1=3, Q5_0=6, Q5_1=7, Q8_0=8, Q2_K=10, Q3_K=11, Q4_K=12, Q5_K=13, Q6_K=14)
BLCK = dict(F16=1, Q4_0=32, Q4_1=32, Q5_0=32, Q5_1=32, Q8_0=32, Q2_K=256, Q3_K=256, Q4_K=256, Q5_K=256, Q6_K=256)
FALLBACK = dict(Q2_K="Q4_0", Q3_K="Q4_0", Q4_K="Q5_0", Q5_K="Q5_1", Q6_K="Q8_0")
DEFAULT = dict(Q2_K="Q2_K", Q3_K_M="Q3_K", Q4_0="Q4_0", Q4_K_M="Q4_K", Q8_0="Q8_0")


class Traits(ctypes.Structure):
    _fields_ = [("type_name", ctypes.c_char_p), ("blck_size", ctypes.c_int64), ("blck_size_interleave", ctypes.c_int64),
                ("type_size", ctypes.c_size_t), ("is_quantized", ctypes.c_bool), ("to_float", ctypes.c_void_p),
                ("from_float_ref", ctypes.c_void_p)]


LIB.ggml_get_type_traits.restype = ctypes.POINTER(Traits)
LIB.ggml_get_type_traits.argtypes = [ctypes.c_int]
LIB.ggml_row_size.restype = ctypes.c_size_t
LIB.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
LIB.ggml_quantize_chunk.restype = ctypes.c_size_t
LIB.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                                    ctypes.c_int64, ctypes.c_void_p]
TO_FLOAT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)


def roundtrip(w, typ, imatrix):
    rows, cols = w.shape
    t = T[typ]
    src = np.ascontiguousarray(w, dtype=np.float32)
    dst = np.zeros(LIB.ggml_row_size(t, cols) * rows, dtype=np.uint8)
    im = None if imatrix is None else np.ascontiguousarray(imatrix, dtype=np.float32)
    n = LIB.ggml_quantize_chunk(t, src.ctypes.data, dst.ctypes.data, 0, rows, cols, None if im is None else im.ctypes.data)
    assert n == dst.size, (typ, n, dst.size)
    out = np.zeros(rows * cols, dtype=np.float32)
    TO_FLOAT(LIB.ggml_get_type_traits(t).contents.to_float)(dst.ctypes.data, out.ctypes.data, rows * cols)
    return out.reshape(rows, cols), n * 8


def read_checkpoint(src):
    idx = json.load(open(os.path.join(src, "model.safetensors.index.json")))["weight_map"]
    tensors = {}
    for f in sorted(set(idx.values())):
        b = open(os.path.join(src, f), "rb").read()
        hl = struct.unpack("<Q", b[:8])[0]
        h = json.loads(b[8:8 + hl])
        for k, v in h.items():
            if k == "__metadata__":
                continue
            s, e = v["data_offsets"]
            tensors[k] = (v["dtype"], v["shape"], b[8 + hl + s:8 + hl + e])
    return tensors


def to_f32(dtype, shape, raw):
    if dtype == "BF16":
        return (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(shape)
    if dtype == "F32":
        return np.frombuffer(raw, dtype=np.float32).reshape(shape)
    if dtype == "F16":
        return np.frombuffer(raw, dtype=np.float16).astype(np.float32).reshape(shape)
    raise ValueError(dtype)


ROLE = [(r"self_attn\.q_proj", "attn_q"), (r"self_attn\.k_proj", "attn_k"), (r"self_attn\.v_proj", "attn_v"),
        (r"self_attn\.o_proj", "attn_output"), (r"\.w1\.|gate_proj", "ffn_gate"), (r"\.w3\.|up_proj", "ffn_up"),
        (r"\.w2\.|down_proj", "ffn_down")]


def role(name):
    if not re.match(r"model\.layers\.\d+\.", name) or not name.endswith(".weight"):
        return None
    if "norm" in name or name.endswith("block_sparse_moe.gate.weight") or name.endswith("mlp.gate.weight") \
            or "shared_expert_gate" in name:
        return None
    for pat, r in ROLE:
        if re.search(pat, name):
            return r
    return None


def use_more_bits(i, n):
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def choose(ftype, r, layer, n_layer, i_wv, n_wv, n_expert, n_gqa, cols, has_imatrix):
    t = DEFAULT[ftype]
    if r == "attn_v":
        if ftype == "Q2_K":
            t = "Q4_K" if n_gqa >= 4 else "Q3_K"
        elif ftype == "Q3_K_M":
            t = "Q5_K" if i_wv < 2 else "Q4_K"
        elif ftype == "Q4_K_M" and use_more_bits(i_wv, n_wv):
            t = "Q6_K"
        if n_expert == 8:
            t = "Q8_0"
    elif r == "attn_k":
        if n_expert == 8:
            t = "Q8_0"
    elif r == "ffn_down":
        if ftype == "Q2_K":
            t = "Q3_K"
        elif ftype == "Q3_K_M":
            t = "Q5_K" if layer < n_layer // 16 else "Q4_K"
        elif ftype == "Q4_K_M":
            if use_more_bits(layer, n_layer):
                t = "Q6_K"
        elif ftype == "Q4_0" and has_imatrix and layer < n_layer // 8:
            t = "Q4_1"
    elif r == "attn_output":
        if n_expert == 8:
            if ftype in ("Q2_K", "Q3_K_M", "Q4_K_M"):
                t = "Q5_K"
        else:
            t = {"Q2_K": "Q3_K", "Q3_K_M": "Q4_K"}.get(ftype, t)
    if cols % BLCK[t] != 0:
        t = FALLBACK[t]
        if cols % BLCK[t] != 0:
            t = "F16"
    return t


def main():
    src, out, ftype = sys.argv[1], sys.argv[2], sys.argv[3]
    imat = None
    if "--imatrix" in sys.argv:
        with open(sys.argv[sys.argv.index("--imatrix") + 1]) as f:  # {tensor name: [mean x^2 per input column]}
            imat = {k: np.asarray(v, dtype=np.float32) for k, v in json.load(f).items()}
    has_imatrix = imat is not None
    cfg = json.load(open(os.path.join(src, "config.json")))
    n_layer = cfg["num_hidden_layers"]
    n_expert = cfg.get("num_local_experts", cfg.get("num_experts", 1))
    n_gqa = cfg["num_attention_heads"] // cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    tensors = read_checkpoint(src)
    names = sorted(tensors, key=lambda k: (int(re.match(r"model\.layers\.(\d+)\.", k).group(1)) if k.startswith("model.layers.") else -1, k))
    i_wv = 0
    bits = 0
    weights = 0
    counts = {}
    header = {}
    blobs = []
    off = 0
    for k in names:
        dtype, shape, raw = tensors[k]
        r = role(k)
        if r is not None:
            layer = int(re.match(r"model\.layers\.(\d+)\.", k).group(1))
            t = choose(ftype, r, layer, n_layer, i_wv, n_layer, n_expert, n_gqa, shape[1], has_imatrix)
            if r == "attn_v":
                i_wv += 1
            w = to_f32(dtype, shape, raw)
            im = None if imat is None or k not in imat else imat[k]
            if t == "F16":
                q, b = w.astype(np.float16).astype(np.float32), 16 * w.size
            else:
                q, b = roundtrip(w, t, im)
            bits += b
            weights += w.size
            counts[t] = counts.get(t, 0) + 1
            raw, dtype = q.astype(np.float32).tobytes(), "F32"
        elif dtype != "F32":  # every tensor f32 (exact for bf16), the config says float32: no second rounding
            raw, dtype = to_f32(dtype, shape, raw).astype(np.float32).tobytes(), "F32"
        header[k] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    os.makedirs(out, exist_ok=False)
    hj = json.dumps(header).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    for f in os.listdir(src):
        if f.endswith(".json") and not f.startswith("model.safetensors") or f.startswith("tokenizer"):
            shutil.copy(os.path.join(src, f), out)
    c = json.load(open(os.path.join(out, "config.json")))
    for key in ("dtype", "torch_dtype"):
        if key in c:
            c[key] = "float32"
    json.dump(c, open(os.path.join(out, "config.json"), "w"), indent=2)
    print(json.dumps({"ftype": ftype, "imatrix": has_imatrix, "bits_per_weight": bits / weights, "types": counts}))


if __name__ == "__main__":
    main()
