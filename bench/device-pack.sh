#!/usr/bin/env bash
# Packs what bench/device.sh needs on a GPU machine that has no Node.js, no npm registry and no
# Vulkan loader (the device machines lent to this project): this machine's `node`, the installed
# packages the bench loads (the production dependencies, tsx and TF.js with everything they depend
# on; Dawn for linux-x64 only) and Debian's libvulkan1, as .device/bundle.tar.xz (git-ignored,
# about 40 MB; the device tool carries at most 64 MiB). Run it here after `npm ci`, then on the GPU
# machine carry `.device` and run `bash bench/device.sh`, which unpacks it when node_modules is absent.
#
#   bash bench/device-pack.sh          # writes .device/bundle.tar.xz and .device/libvulkan1_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d node_modules/webgpu ]] || { echo "device-pack.sh: run npm ci first" >&2; exit 1; }
[[ $(uname -m) == x86_64 ]] || { echo "device-pack.sh: packs x86-64 binaries; this machine is $(uname -m)" >&2; exit 1; }

rm -rf .device
mkdir -p .device/stage/bin
cp "$(command -v node)" .device/stage/bin/node
# Every package the bench can load, with its dependencies, as npm resolved them.
packages=$(npm query '.prod, #tsx, #tsx *, #@tensorflow/tfjs-core, #@tensorflow/tfjs-core *, #@tensorflow/tfjs-backend-webgpu, #@tensorflow/tfjs-backend-webgpu *' |
  node -e 'const root = process.cwd() + "/"; const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
    console.log([...new Set(d.map((p) => p.path).filter((p) => p.startsWith(root + "node_modules/")).map((p) => p.slice(root.length)))].sort().join("\n"))')
# Dawn's other platforms, source maps and type declarations are not loaded.
tar -cf - --exclude='webgpu/dist/darwin-*' --exclude='webgpu/dist/win32-*' --exclude='webgpu/dist/linux-arm64' \
  --exclude='*.map' --exclude='*.d.ts' $packages | tar -xf - -C .device/stage
(cd .device && apt-get download libvulkan1 >/dev/null 2>&1) || { echo "device-pack.sh: apt-get download libvulkan1 failed" >&2; exit 1; }
tar -C .device/stage -cf - bin node_modules | xz -T0 -6 >.device/bundle.tar.xz
rm -rf .device/stage
echo "device-pack.sh: $(echo "$packages" | wc -l) packages, node $(node --version); .device holds $(du -sh .device | cut -f1):"
ls -l .device
