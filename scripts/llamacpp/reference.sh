#!/usr/bin/env bash
# llama.cpp's reference points for docs/results/quantization.md, measured on this machine (docs/results/llamacpp-reference.md):
# each model's decoder Linear weights quantized as llama-quantize would (quantize_like_llamacpp.py: llama.cpp's type
# mixture, ggml's kernels), with and without an importance matrix from moekit's calibration windows (ImatrixDump),
# dequantized and scored by `moekit eval --ref` on the first 4 windows of each test split, as issue 11's figures were.
# Needs GGML_LIB=<ggml build>/src/libggml-base.so (https://github.com/ggml-org/ggml, cmake; not built or shipped here)
# and python3 with numpy; GGML_COMMIT names the ggml commit on the page.
#   GGML_LIB=... [GGML_COMMIT=...] scripts/llamacpp/reference.sh [models...]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${GGML_LIB:?set GGML_LIB to libggml-base.so of a ggml build}"
models=${*:-mixtral-tiny qwen2moe-tiny mixtral-upcycled-tiny}
shared=$(cd "$here/../shared" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
BENCH_MODULE=quantize . "$here/scripts/bench-classpath.sh"
rows="$work/rows.tsv"
for m in $models; do
  "$JAVA" $JFLAGS -Xmx6g -cp "$BENCH_CP" dev.moekit.quantize.ImatrixDump "$shared/models/$m" "$work/$m.imatrix.json" "$shared/data" 4 2>/dev/null
  for spec in Q2_K Q2_K+imatrix Q3_K_M Q3_K_M+imatrix Q4_0 Q4_K_M Q4_K_M+imatrix Q8_0; do
    f=${spec%+imatrix}; im=(); [ "$spec" != "$f" ] && im=(--imatrix "$work/$m.imatrix.json")
    out="$work/$m-$spec"
    info=$(GGML_LIB=$GGML_LIB python3 "$here/scripts/llamacpp/quantize_like_llamacpp.py" "$shared/models/$m" "$out" "$f" "${im[@]}")
    "$here/moekit" eval "$out" --ref "$shared/models/$m" --windows 4 --data "$shared"/data/*.test.txt --json "$out.json" >/dev/null 2>&1
    python3 - "$m" "$spec" "$info" "$out.json" >> "$rows" <<'PY'
import json, sys
m, spec, info, ev = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.load(open(sys.argv[4]))
kl = [d["kl"]["mean"] for d in ev["domains"]]
types = ", ".join(f"{n} {t}" for t, n in sorted(info["types"].items(), key=lambda x: -x[1]))
print(f"{m}\t{spec}\t{info['bits_per_weight']:.2f}\t{sum(kl) / len(kl):.4f}\t{types}")
PY
    rm -rf "$out"
    tail -1 "$rows"
  done
done
{
  echo "# llama.cpp reference points"
  echo
  echo "Produced by \`scripts/llamacpp/reference.sh\` ($(date -u +%F), $(nproc) CPU cores): each checkpoint's decoder Linear weights quantized as llama-quantize would (tensor types by the rules of llama.cpp's \`src/llama-quant.cpp\` for the file type, quantized and dequantized by ggml's own kernels from ggml ${GGML_COMMIT:-(the build GGML_LIB names)}), embeddings, lm_head, norms and routers kept; '+imatrix' with llama-imatrix's statistic (mean x^2 per input column, experts over their routed tokens) from moekit's calibration windows (4 windows of 256 tokens of each \`*.valid.txt\`). Scored by \`moekit eval --ref\` on the first 4 windows of 256 tokens of each \`*.test.txt\` split: mean over the four splits of the mean KL to the original. Bits per weight over the decoder Linear weights, the GGML blocks' bytes (scales and minimums) included. Issue 11's figures, from llama.cpp's own tools, are given where it has them: the method reproduces them."
  echo
  echo "| model | type | bits/weight | mean KL | issue 11 | tensor types |"
  echo "|---|---|---|---|---|---|"
  while IFS=$'\t' read -r m spec bits kl types; do
    case "$m $spec" in
      "mixtral-tiny Q2_K") given="3.05, 0.082";; "mixtral-tiny Q2_K+imatrix") given="3.05, 0.073";;
      "mixtral-tiny Q3_K_M") given="3.91, 0.0235";; "mixtral-tiny Q3_K_M+imatrix") given="3.91, 0.0218";;
      "mixtral-tiny Q4_0") given="4.58, 0.0157";; "mixtral-tiny Q4_K_M") given="4.81, 0.0091";;
      "mixtral-tiny Q4_K_M+imatrix") given="4.81, 0.0090";; "mixtral-tiny Q8_0") given="8.50, 0.0004";;
      "qwen2moe-tiny Q2_K") given="3.20, 0.102";; "qwen2moe-tiny Q3_K_M") given="4.09, 0.0254";;
      "qwen2moe-tiny Q4_K_M") given="5.09, 0.0110";; *) given="-";;
    esac
    echo "| $m | $spec | $bits | $kl | $given | $types |"
  done < "$rows"
} > "$here/docs/results/llamacpp-reference.md"
echo "wrote $here/docs/results/llamacpp-reference.md"
