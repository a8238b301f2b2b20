// The WebGPU adapter the worker trains on: name, the features the kernels use, and granted limits.

import { useApp } from '../store.ts';
import { formatBytes } from './format.ts';

/** Limits measured in bytes, shown as MiB/GiB. */
const isByteLimit = (name: string) => name.endsWith('Size');

export function DevicePanel() {
  const device = useApp((s) => s.device);
  return (
    <section className="panel" aria-labelledby="device-heading">
      <h2 id="device-heading">Device</h2>
      {!device ? (
        <p className="muted">Looking for a WebGPU adapter…</p>
      ) : (
        <>
          <div className="device-line">
            <strong data-testid="device-adapter">{device.adapter}</strong>
            <ul className="features" aria-label="Features the kernels use">
              {['shader-f16', 'subgroups'].map((feature) => {
                const has = device.features.includes(feature);
                return (
                  <li key={feature} className={has ? 'yes' : 'no'}>
                    {has ? '✓' : '✗'} {feature}
                  </li>
                );
              })}
            </ul>
          </div>
          {device.cpu && (
            <p className="warning">
              This adapter is a CPU driver (SwiftShader): training works, but about a thousand times slower than on a GPU. The built-in tiny model stays usable.
            </p>
          )}
          <details>
            <summary>Limits</summary>
            <dl className="limits">
              {Object.entries(device.limits).map(([name, value]) => (
                <div key={name}>
                  <dt>{name}</dt>
                  <dd>{isByteLimit(name) ? formatBytes(value) : value}</dd>
                </div>
              ))}
            </dl>
          </details>
        </>
      )}
    </section>
  );
}
