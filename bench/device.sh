#!/usr/bin/env bash
# The full bench on a Linux machine with an NVIDIA GPU and a Vulkan driver, through Dawn (the
# `webgpu` npm package): the matmul table (f32 and packed-f16 weights, beside TF.js f32), decode
# tokens/s of a random Qwen2.5-0.5B-shaped BF16 model at batch 1 and 8 with per-token GPU counters,
# prefill tokens/s at 512 tokens, and one GRPO step (8 completions x 256 tokens after a 128-token
# prompt, LoRA r16) with its time breakdown. Prints the JSON, then tables, and checks that the GPU
# adapter ran it, not SwiftShader. At most 8 minutes.
#
#   bash bench/device.sh            # on the GPU machine, from the repository root
#   bash bench/device.sh --small    # every part at small sizes, a CPU adapter allowed (a dry run here)
#
# On a machine without Node.js, npm's registry or a Vulkan loader, first run bench/device-pack.sh
# here and carry .device (the device tool: carry [".device"], command `bash bench/device.sh`).
#
# Writes bench-device.json (and bench-device.log, the benches' own lines) in $OUT or the current directory.
set -euo pipefail
cd "$(dirname "$0")/.."
small=0
[[ "${1:-}" == "--small" ]] && small=1
out="${OUT:-.}"
limit=$((small ? 900 : 480)) # seconds: the full run must fit 8 minutes

# A machine without Node.js or the npm registry: unpack bench/device-pack.sh's bundle (carried in .device).
if [[ ! -d node_modules/webgpu && -f .device/bundle.tar.xz ]]; then
  tar -xJf .device/bundle.tar.xz -C .device
  mv .device/node_modules node_modules
  if ! ldconfig -p | grep libvulkan >/dev/null; then
    dpkg -x .device/libvulkan1_*.deb / && ldconfig
  fi
fi
[[ -x .device/bin/node ]] && export PATH="$PWD/.device/bin:$PATH"
echo "device.sh: node $(node --version) at $(command -v node)"
[[ -d node_modules/webgpu ]] || npm ci --no-audit --no-fund

# Vulkan: the loader library, then NVIDIA's driver manifest. Naming the driver also stops
# src/gpu/device.ts from falling back to SwiftShader when Dawn finds no adapter.
if ! ldconfig -p | grep libvulkan >/dev/null; then
  echo "device.sh: no libvulkan on this machine (install libvulkan1, or unpack its .deb and run ldconfig)." >&2
  [[ $small == 1 ]] || exit 1
fi
if [[ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [[ -f $icd ]]; then
      export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
      break
    fi
  done
fi
echo "device.sh: Vulkan driver manifest: ${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-none named (Dawn searches; SwiftShader if nothing is found)}}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "device.sh: no nvidia-smi"

flags=(--device --json)
[[ $small == 1 ]] && flags+=(--small)
start=$(date +%s)
timeout "$limit" node --import ./scripts/register.mjs bench/run.ts "${flags[@]}" >"$out/bench-device.json" 2> >(tee "$out/bench-device.log" >&2)
echo "device.sh: the bench took $(($(date +%s) - start)) s"
echo
cat "$out/bench-device.json"
echo
report=(bench/report.ts "$out/bench-device.json")
[[ $small == 1 ]] && report+=(--allow-cpu)
node --import ./scripts/register.mjs "${report[@]}"
