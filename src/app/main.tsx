// The web app's entry. For now it shows the WebGPU device the engine would train on; the training
// UI (issue #5) builds on this page.

import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { acquireGpu, WebGpuUnavailableError } from '../gpu/device.ts';

interface DeviceInfo {
  description: string;
  features: string[];
  limits: Record<string, number>;
}

function DevicePanel() {
  const [info, setInfo] = useState<DeviceInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    acquireGpu()
      .then((gpu) => {
        setInfo({
          description: `${gpu.adapter.description || gpu.adapter.architecture} (${gpu.adapter.vendor})`,
          features: [gpu.hasF16 ? 'shader-f16' : 'no shader-f16', gpu.hasSubgroups ? 'subgroups' : 'no subgroups'],
          limits: {
            maxBufferSize: gpu.limits.maxBufferSize,
            maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize,
            maxComputeWorkgroupStorageSize: gpu.limits.maxComputeWorkgroupStorageSize,
          },
        });
        gpu.destroy();
      })
      .catch((e: unknown) => setError(e instanceof WebGpuUnavailableError ? e.message : String(e)));
  }, []);
  if (error) return <p role="alert">WebGPU is not available: {error}</p>;
  if (!info) return <p>Looking for a WebGPU adapter…</p>;
  return (
    <dl>
      <dt>Adapter</dt>
      <dd data-testid="adapter">{info.description}</dd>
      <dt>Features</dt>
      <dd>{info.features.join(', ')}</dd>
      <dt>Limits</dt>
      <dd>{Object.entries(info.limits).map(([k, v]) => `${k} ${v}`).join(', ')}</dd>
    </dl>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <h1>webgrpo</h1>
    <p>GRPO for tiny reasoning models, on WebGPU in your browser.</p>
    <DevicePanel />
  </StrictMode>,
);
