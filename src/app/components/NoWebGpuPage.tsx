// Shown instead of the app when the browser offers no WebGPU: why, and which browsers and settings work.

export function NoWebGpuPage({ reason }: { reason: string }) {
  return (
    <main className="no-webgpu" data-testid="no-webgpu">
      <h1>webgrpo needs WebGPU</h1>
      <p>This page trains a language model on your graphics card through WebGPU, and this browser does not offer it here.</p>
      <p className="reason">{reason}</p>
      <h2>Where it works</h2>
      <ul>
        <li>
          <strong>Chrome or Edge 113+</strong> on Windows, macOS and ChromeOS. On <strong>Linux</strong>, turn on “Unsafe WebGPU Support” at{' '}
          <code>chrome://flags/#enable-unsafe-webgpu</code> or start Chrome with <code>--enable-unsafe-webgpu</code>.
        </li>
        <li>
          <strong>Safari 26+</strong> on macOS, iOS and iPadOS.
        </li>
        <li>
          <strong>Firefox 141+</strong> on Windows (other platforms: <code>dom.webgpu.enabled</code> in <code>about:config</code>, still experimental).
        </li>
      </ul>
      <h2>Also check</h2>
      <ul>
        <li>
          The page must come from <code>https://</code> or <code>http://localhost</code>: browsers offer WebGPU only to secure pages.
        </li>
        <li>Hardware acceleration must be on in the browser’s settings, and the graphics driver must not be on the browser’s block list.</li>
        <li>No GPU? Chrome falls back to a CPU driver (SwiftShader) on some systems: slow, but the built-in tiny model still trains.</li>
      </ul>
    </main>
  );
}
