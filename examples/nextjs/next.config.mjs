// A static export (out/), served by tests/consumer's reference server, which also answers the
// API: one origin. Nothing about wasm or the bundler: the package needs no configuration.
export default { output: 'export' };
